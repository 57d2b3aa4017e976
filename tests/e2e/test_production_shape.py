"""The production shape on one machine: two API, two worker and two projector processes
against one PostgreSQL and one Temporal. One of each is killed (SIGKILL) mid-load:
nothing is lost, nothing is applied or charged twice, and the standby projector
takes over."""

from __future__ import annotations

import asyncio
import uuid
from contextlib import ExitStack
from typing import Any

import httpx

from domain.payments import payment_key
from tests.conftest import free_port, make_settings, running_system, settings_env, token
from tests.e2e.test_crashes import kill, shop_process, until_serving, until_timeline_complete
from tests.ops.audit_client import audited, findings_about
from tests.orders_client import CREATE_ORDER, faults, ledger, stocked_product, until_final


def process_env(base: dict[str, str]) -> dict[str, str]:
    """One process's environment: the shared settings, and ports of its own."""
    ports = (
        "API_PORT",
        "API_METRICS_PORT",
        "WORKER_METRICS_PORT",
        "WORKER_SDK_METRICS_PORT",
        "PROJECTOR_METRICS_PORT",
    )
    return {**base, **{name: str(free_port()) for name in ports}}


async def create_order(client: httpx.AsyncClient, product_id: str, request_id: str) -> Any:
    variables = {
        "input": {"userId": "user-123", "items": [{"productId": product_id, "quantity": 1}]},
        "r": request_id,
    }
    response = await client.post(
        "/graphql",
        json={"query": CREATE_ORDER, "variables": variables},
        headers={"authorization": f"Bearer {token()}"},
    )
    return response.json()["data"]["createOrder"]["id"]


async def test_one_of_each_process_killed_mid_load(database_url, temporal_env, psp_url, engine):
    settings = make_settings(
        database_url,
        temporal_env.client.service_client.config.target_host,
        psp_url,
        saga_step_deadline_seconds=120.0,
        payment_deadline_seconds=120.0,
        projector_poll_seconds=0.2,
    )
    async with running_system(settings, temporal_env) as system:
        product = await stocked_product(system.gql, stock=30)
    base = settings_env(settings)
    envs = {name: process_env(base) for name in ("api-1", "api-2")}
    await faults(psp_url, latency_ms=300)
    with ExitStack() as stack:
        processes = {
            name: stack.enter_context(shop_process(name.split("-")[0], process_env(base)))
            for name in ("worker-1", "worker-2", "projector-1", "projector-2")
        }
        for name, env in envs.items():
            processes[name] = stack.enter_context(shop_process("api", env))
        clients = [
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{env['API_PORT']}", timeout=60)
            for env in envs.values()
        ]
        try:
            for client in clients:
                await until_serving(client)
            requests = [f"shape-{uuid.uuid4()}" for _ in range(12)]
            first = [
                asyncio.create_task(create_order(clients[n % 2], product["id"], r))
                for n, r in enumerate(requests)
            ]
            await asyncio.sleep(1.0)
            for name in ("api-1", "worker-1", "projector-1"):
                kill(processes[name])
            await asyncio.gather(*first, return_exceptions=True)
            await faults(psp_url)
            # Every client retries on the surviving API with its requestId.
            ids = [await create_order(clients[1], product["id"], r) for r in requests]
            assert len(set(ids)) == 12
        finally:
            await faults(psp_url)
            for client in clients:
                await client.aclose()

        async with running_system(settings, temporal_env) as system:
            finals = await asyncio.gather(*(until_final(system.gql, i, within=120) for i in ids))
        assert [f["status"] for f in finals] == ["CONFIRMED"] * 12
        # The standby projector took over: every timeline is complete.
        for order_id in ids:
            await until_timeline_complete(engine, order_id)

    keys = [c["key"] for c in (await ledger(psp_url))["charges"]]
    assert all(keys.count(payment_key(i)) == 1 for i in ids)
    report = await audited(settings)
    assert findings_about(report, ids) == [], report.as_text()
