"""Processes killed mid-flight (SIGKILL) and restarted: nothing is lost or done twice.

The worker mid-saga, the projector mid-batch, and the API mid-request (its client
retries with the same requestId and gets the one order).
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import sqlalchemy as sa

from domain.payments import payment_key
from tests.conftest import (
    free_port,
    make_settings,
    running_api,
    running_system,
    settings_env,
    token,
)
from tests.orders_client import (
    CREATE_ORDER,
    faults,
    ledger,
    place,
    stocked_product,
    until_final,
)


@contextmanager
def shop_process(command: str, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", command],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def kill(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait()


async def test_sagas_finish_after_the_worker_is_killed(database_url, temporal_env, psp_url, engine):
    # Deadlines longer than a worker's restart on a busy machine: the sagas must
    # resume, not be cancelled because the new worker took a few seconds to start.
    settings = make_settings(
        database_url,
        temporal_env.client.service_client.config.target_host,
        psp_url,
        payment_deadline_seconds=60.0,
        saga_step_deadline_seconds=60.0,
    )
    env = settings_env(settings)
    await faults(psp_url, latency_ms=300)
    try:
        async with running_api(settings) as system:
            with shop_process("worker", env) as first:
                # Catalog commands run on the command queue, which the worker process polls.
                product = await stocked_product(system.gql, stock=20)
                bodies = await asyncio.gather(
                    *(place(system.gql, [(product["id"], 1)]) for _ in range(8))
                )
                ids = [body["data"]["createOrder"]["id"] for body in bodies]
                await asyncio.sleep(0.4)  # payments are under way
                kill(first)
            with shop_process("worker", env):
                finals = await asyncio.gather(*(until_final(system.gql, i, within=90) for i in ids))
    finally:
        await faults(psp_url)

    assert [f["status"] for f in finals] == ["CONFIRMED"] * len(ids)
    async with engine.connect() as conn:
        for order_id in ids:
            order_events = (
                (
                    await conn.execute(
                        sa.text(
                            "SELECT event_type FROM eventstore.events WHERE correlation_id = :o"
                            " ORDER BY transaction_id, position"
                        ),
                        {"o": order_id},
                    )
                )
                .scalars()
                .all()
            )
            assert order_events.count("PaymentCaptured") == 1
            assert order_events.count("OrderConfirmed") == 1
            assert order_events.count("StockReserved") == 1
            assert len(order_events) == len(set(order_events)), order_events
    charges = {c["key"]: c for c in (await ledger(psp_url))["charges"]}
    for order_id in ids:
        assert charges[payment_key(order_id)]["refunded"] is False
    assert len([k for k in charges if k in {payment_key(i) for i in ids}]) == len(ids)


async def test_timelines_are_complete_after_the_projector_is_killed(
    database_url, temporal_env, psp_url, engine
):
    settings = make_settings(
        database_url,
        temporal_env.client.service_client.config.target_host,
        psp_url,
        projector_poll_seconds=0.1,
        projector_batch_size=3,
    )
    env = settings_env(settings)
    async with running_system(settings, temporal_env) as system:
        product = await stocked_product(system.gql, stock=20)
        with shop_process("projector", env) as first:
            bodies = await asyncio.gather(
                *(place(system.gql, [(product["id"], 1)]) for _ in range(6))
            )
            ids = [body["data"]["createOrder"]["id"] for body in bodies]
            await asyncio.sleep(0.5)
            kill(first)
        await asyncio.gather(*(until_final(system.gql, i) for i in ids))
        with shop_process("projector", env):
            for order_id in ids:
                await until_timeline_complete(engine, order_id)


async def until_timeline_complete(engine, order_id: str) -> None:
    for _ in range(300):
        async with engine.connect() as conn:
            expected = (
                await conn.execute(
                    sa.text(
                        "SELECT transaction_id::text, position FROM eventstore.events"
                        " WHERE correlation_id = :o ORDER BY transaction_id, position"
                    ),
                    {"o": order_id},
                )
            ).all()
            projected = (
                await conn.execute(
                    sa.text(
                        "SELECT transaction_id::text, sequence FROM read.order_timeline"
                        " WHERE order_id = :o ORDER BY transaction_id, sequence"
                    ),
                    {"o": order_id},
                )
            ).all()
        if projected == expected:
            return
        assert len(projected) <= len(expected)
        await asyncio.sleep(0.05)
    raise AssertionError(f"timeline of {order_id}: {len(projected)} of {len(expected)} events")


async def test_a_client_retrying_after_the_api_died_mid_request_gets_exactly_one_order(
    database_url, temporal_env, psp_url, engine
):
    settings = make_settings(
        database_url,
        temporal_env.client.service_client.config.target_host,
        psp_url,
        api_port=free_port(),
        api_metrics_port=free_port(),
    )
    async with running_system(settings, temporal_env) as system:
        product = await stocked_product(system.gql, stock=5)
    request_id = f"retry-{uuid.uuid4()}"
    variables = {
        "input": {"userId": "user-123", "items": [{"productId": product["id"], "quantity": 1}]},
        "r": request_id,
    }
    # No worker runs: createOrder waits for its order to be placed, and the API dies.
    with shop_process("api", settings_env(settings)) as api:
        base = f"http://127.0.0.1:{settings.api_port}"
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            await until_serving(client)
            request = asyncio.create_task(
                client.post(
                    "/graphql",
                    json={"query": CREATE_ORDER, "variables": variables},
                    headers={"authorization": f"Bearer {token()}"},
                )
            )
            await asyncio.sleep(1.0)
            kill(api)
            with pytest.raises(httpx.TransportError):
                await request

    async with running_system(settings, temporal_env) as system:
        retried = (await system.gql(CREATE_ORDER, variables))["data"]["createOrder"]
        final = await until_final(system.gql, retried["id"])
    assert final["status"] == "CONFIRMED"
    async with engine.connect() as conn:
        orders = await conn.scalar(
            sa.text("SELECT count(*) FROM read.order_items WHERE product_id = :p"),
            {"p": product["id"]},
        )
    assert orders == 1
    charges = [
        c for c in (await ledger(psp_url))["charges"] if c["key"] == payment_key(final["id"])
    ]
    assert len(charges) == 1


async def until_serving(client: httpx.AsyncClient) -> None:
    for _ in range(300):
        try:
            if (await client.get("/healthz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError("the API process did not start")
