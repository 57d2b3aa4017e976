"""Subscriptions cost nothing while their order is quiet, read each update afresh, and are
capped per socket and caller."""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.typing import Subprotocol

from eventstore.records import Position
from read_models.tables import order_timeline, order_updates, orders
from tests.conftest import make_settings, running_system, sql_statements, temporal_address, token
from tests.e2e.test_subscription import SUBSCRIBE, served, signed_in
from tests.orders_client import place, stocked_product, until_final

# `system` uses these defaults; a test that needs others says so.
PER_SOCKET = 20
PER_CALLER = 5


async def subscribe(ws: ClientConnection, operation_id: str, order_id: str) -> None:
    payload = {"query": SUBSCRIBE, "variables": {"id": order_id}}
    await ws.send(json.dumps({"id": operation_id, "type": "subscribe", "payload": payload}))


async def receive(ws: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 30))
    return message


@pytest.fixture
async def quiet_order(engine) -> AsyncIterator[str]:
    """An order in the read model, PENDING at version 1, whose saga will never move.

    Removed afterwards: it has no events, so a rebuild of the read model would not
    have it (and other tests compare the two).
    """
    order_id = f"quiet-{uuid.uuid4()}"
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(orders).values(
                id=order_id,
                user_id="user-123",
                status="PENDING",
                total_amount=0,
                saga_status="RUNNING",
                saga_state="STARTED",
                current_step="RESERVE_STOCK",
                version=1,
                started_at=now,
                updated_at=now,
                tenant_id="default",
            )
        )
        await conn.execute(sa.insert(order_updates).values(**_update(order_id, 1, "PENDING")))
    yield order_id
    async with engine.begin() as conn:
        await conn.execute(sa.delete(order_updates).where(order_updates.c.order_id == order_id))
        await conn.execute(sa.delete(orders).where(orders.c.id == order_id))
        await conn.execute(sa.delete(order_timeline).where(order_timeline.c.order_id == order_id))


def _update(order_id: str, version: int, status: str) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "version": version,
        "status": status,
        "saga_status": "RUNNING" if status == "PENDING" else "COMPLETED",
        "current_step": None,
        "at": datetime.now(UTC),
        "tenant_id": "default",
    }


@pytest.fixture
async def patient_system(database_url, temporal_env, psp_url):
    """The system with idle subscriptions never re-reading on their own during a test."""
    settings = make_settings(
        database_url,
        temporal_address(temporal_env),
        psp_url,
        subscription_recheck_seconds=600.0,
    )
    async with running_system(settings, temporal_env) as system:
        yield system


async def test_two_hundred_idle_subscribers_cost_no_sql_when_other_orders_change(
    patient_system, engine, store, quiet_order
):
    system, order_id = patient_system, quiet_order
    callers = [token(f"watcher-{n}") for n in range(10)]  # 10 sockets x 20 subscriptions
    async with served(system.app) as port, AsyncExitStack() as stack:
        sockets = [await stack.enter_async_context(signed_in(port, c)) for c in callers]
        for ws in sockets:
            for n in range(PER_SOCKET):
                await subscribe(ws, str(n), order_id)
        for ws in sockets:  # each subscription's first read: version 1
            for _ in range(PER_SOCKET):
                assert (await receive(ws))["payload"]["data"]["orderUpdated"]["version"] == 1

        with sql_statements(system) as statements:
            product = await stocked_product(system.gql, stock=2)
            for _ in range(2):
                other = (await place(system.gql, [(product["id"], 1)]))["data"]["createOrder"]
                await until_final(system.gql, other["id"])
        reads_of_updates = [s for s in statements if "order_updates" in s]
        assert reads_of_updates == [], f"{len(reads_of_updates)} reads while the order was quiet"
        assert any("read.orders" in s for s in statements)  # the counter does see this engine

        # Its own change wakes every one of them, and each gets it.
        async with engine.begin() as conn:
            await conn.execute(sa.insert(order_updates).values(**_update(order_id, 2, "CONFIRMED")))
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await store.notify(conn, Position(0, 0), correlation_id=order_id)
        for ws in sockets:
            kinds = [(await receive(ws))["type"] for _ in range(2 * PER_SOCKET)]
            assert kinds.count("next") == kinds.count("complete") == PER_SOCKET


async def test_a_socket_runs_a_bounded_number_of_operations_and_stays_usable(system, quiet_order):
    order_id = quiet_order
    async with served(system.app) as port, signed_in(port, token()) as ws:
        for n in range(PER_SOCKET):
            await subscribe(ws, str(n), order_id)
            assert (await receive(ws))["type"] == "next"
        await subscribe(ws, "one-too-many", order_id)
        refused = await receive(ws)
        assert refused["type"] == "error" and refused["id"] == "one-too-many"
        [error] = refused["payload"]
        assert error["extensions"]["code"] == "VALIDATION"
        assert f"at most {PER_SOCKET} operations" in error["message"]

        await ws.send(json.dumps({"id": "0", "type": "complete"}))
        query = {"query": "{ __typename }"}
        await ws.send(json.dumps({"id": "q", "type": "subscribe", "payload": query}))
        answer = await receive(ws)
        assert answer == {"id": "q", "type": "next", "payload": {"data": {"__typename": "Query"}}}


async def test_a_caller_holds_a_bounded_number_of_sockets(system):
    greedy, other = token("greedy"), token("someone-else")
    async with served(system.app) as port, AsyncExitStack() as stack:
        held = [await stack.enter_async_context(signed_in(port, greedy)) for _ in range(PER_CALLER)]
        async with websockets.connect(
            f"ws://127.0.0.1:{port}/graphql", subprotocols=[Subprotocol("graphql-transport-ws")]
        ) as ws:
            payload = {"Authorization": f"Bearer {greedy}"}
            await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
        assert f"holds {PER_CALLER} open sockets" in closed.value.rcvd.reason

        # Others are not affected, and closing one socket frees its place.
        async with signed_in(port, other):
            pass
        await held[0].close()
        await asyncio.sleep(0.2)  # the server notices the close
        async with signed_in(port, greedy) as again:
            await again.send(
                json.dumps({"id": "q", "type": "subscribe", "payload": {"query": "{ __typename }"}})
            )
            assert (await receive(again))["type"] == "next"


async def test_each_update_shows_the_order_as_it_is_then(system, engine, store, quiet_order):
    """Not as the first update's loaders cached it: the timeline grows between updates."""
    order_id = quiet_order
    timeline_at = itertools.count(2**40)  # far from any real transaction id

    async def an_event_of_its_timeline() -> None:
        async with engine.begin() as conn:
            await conn.execute(
                sa.insert(order_timeline).values(
                    transaction_id=next(timeline_at),
                    sequence=0,
                    order_id=order_id,
                    stream_id=f"order-{order_id}",
                    version=1,
                    event_type="Example",
                    data={},
                    recorded_at=datetime.now(UTC),
                    tenant_id="default",
                )
            )

    await an_event_of_its_timeline()
    subscription = (
        "subscription($id: ID!) { orderUpdated(orderId: $id) "
        "{ version order { timeline { type } } } }"
    )
    async with served(system.app) as port, signed_in(port, token()) as ws:
        payload = {"query": subscription, "variables": {"id": order_id}}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        first = (await receive(ws))["payload"]["data"]["orderUpdated"]
        await an_event_of_its_timeline()
        async with engine.begin() as conn:
            await conn.execute(sa.insert(order_updates).values(**_update(order_id, 2, "CONFIRMED")))
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await store.notify(conn, Position(0, 0), correlation_id=order_id)
        second = (await receive(ws))["payload"]["data"]["orderUpdated"]
    assert (first["version"], len(first["order"]["timeline"])) == (1, 1)
    assert (second["version"], len(second["order"]["timeline"])) == (2, 2)
