"""The saga with the API and the worker in processes of their own, as production runs them.

`shop api`, `shop worker` and `shop projector` are started as in the soak
(`bench.soak.shop_processes`); the baseline's worker runs in a process of its
own too (`bench.baseline_worker`), so both sides pay for the same hops.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from temporalio.client import Client

from bench.baseline_workflows import FourActivities
from bench.harness import Result, per_second
from bench.progress import repetitions
from bench.soak import CREATE_ORDER, shop_processes, stocked_catalog
from devstack.servers import terminate

CONCURRENCY = 50


def _baseline_worker(address: str, queue: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "bench.baseline_worker", address, queue])


async def saga_processes_benchmark(
    database_url: str, client: Client, psp_url: str, *, quick: bool, repeat: int
) -> list[Result]:
    orders = 20 if quick else 300
    queue = f"bench-bare-{uuid.uuid4()}"
    address = client.service_client.config.target_host
    baseline_worker = _baseline_worker(address, queue)
    try:
        with tempfile.TemporaryDirectory() as workdir:
            async with (
                shop_processes(database_url, client, psp_url, Path(workdir)) as shop,
                shop.client() as http,
            ):
                picks = itertools.cycle(await stocked_catalog(http, products=10 if quick else 50))

                async def order() -> None:
                    body = (
                        await http.post(
                            "/graphql",
                            json={"query": CREATE_ORDER, "variables": {"p": next(picks)}},
                        )
                    ).json()
                    order_id = body["data"]["createOrder"]["id"]
                    await client.get_workflow_handle(f"order-{order_id}").result()

                async def bare() -> None:
                    await client.execute_workflow(
                        FourActivities.run, id=f"bench-{uuid.uuid4()}", task_queue=queue
                    )

                await per_second(10, 10, lambda _: order())
                await per_second(10, 10, lambda _: bare())
                ours, baseline = [], []
                for _ in repetitions(f"{orders} orders", repeat):
                    ours.append(await per_second(orders, CONCURRENCY, lambda _: order()))
                    baseline.append(await per_second(orders, CONCURRENCY, lambda _: bare()))
    finally:
        terminate([baseline_worker])
    return [
        Result(
            workload="saga, API and worker in processes of their own",
            unit="orders/s",
            higher_is_better=True,
            ours=ours,
            baseline=baseline,
            baseline_name="the same workflow of 4 no-op activities, its worker a process",
            notes=f"{CONCURRENCY} concurrent orders over HTTP to `shop api`, run by `shop "
            "worker`, projected by `shop projector`; the baseline's worker is a process too. "
            "The machine's two cores are shared by all of them, PostgreSQL and Temporal.",
        )
    ]
