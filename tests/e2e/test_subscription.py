"""`orderUpdated` over graphql-transport-ws, from a real server."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.typing import Subprotocol

from tests.conftest import token
from tests.orders_client import place, stocked_product

SUBSCRIBE = (
    "subscription($id: ID!, $after: Int! = 0) { orderUpdated(orderId: $id, afterVersion: $after) "
    "{ orderId version status sagaStatus currentStep order { totalAmount status } } }"
)


@asynccontextmanager
async def signed_in(port: int, bearer: str) -> AsyncIterator[ClientConnection]:
    """A graphql-transport-ws socket, signed in with `bearer` and acknowledged."""
    async with websockets.connect(
        f"ws://127.0.0.1:{port}/graphql", subprotocols=[Subprotocol("graphql-transport-ws")]
    ) as ws:
        payload = {"Authorization": f"Bearer {bearer}"}
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        ack = await ws.recv()
        assert isinstance(ack, str), "graphql-transport-ws messages are text frames"
        assert json.loads(ack)["type"] == "connection_ack"
        yield ws


async def collect(
    port: int, variables: dict[str, Any], bearer: str | None = None
) -> list[dict[str, Any]]:
    """Every `next` payload of one subscription, until the server completes it."""
    updates = []
    async with signed_in(port, bearer or token()) as ws:
        await ws.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": SUBSCRIBE, "variables": variables},
                }
            )
        )
        while True:
            frame = await asyncio.wait_for(ws.recv(), 30)
            assert isinstance(frame, str), "graphql-transport-ws messages are text frames"
            message = json.loads(frame)
            if message["type"] == "complete":
                return updates
            assert message["type"] == "next", message
            updates.append(message["payload"]["data"]["orderUpdated"])


@asynccontextmanager
async def served(app: Any) -> AsyncIterator[int]:
    """The app on a real port; it is already started by the fixture, so no second lifespan."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_config=None)
    )
    serving = asyncio.create_task(server.serve())
    try:
        for _ in range(200):
            if server.started:
                break
            await asyncio.sleep(0.01)
        yield port
    finally:
        server.should_exit = True
        await serving


async def init(port: int, payload: dict[str, Any] | None) -> Any:
    """A socket after its connection_init: what the server answered, or how it closed."""
    async with websockets.connect(
        f"ws://127.0.0.1:{port}/graphql", subprotocols=[Subprotocol("graphql-transport-ws")]
    ) as ws:
        message: dict[str, Any] = {"type": "connection_init"}
        if payload is not None:
            message["payload"] = payload
        await ws.send(json.dumps(message))
        try:
            return json.loads(await asyncio.wait_for(ws.recv(), 10))["type"]
        except websockets.ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None


async def test_a_socket_must_sign_in_before_it_subscribes(system):
    async with served(system.app) as port:
        assert await init(port, None) == 4403
        assert await init(port, {"Authorization": "Bearer forged.token.here"}) == 4403
        assert await init(port, {"Authorization": f"Bearer {token()}"}) == "connection_ack"


async def first_answer(port: int, bearer: str, order_id: str) -> dict[str, Any]:
    """The first message a subscription to `order_id` gets."""
    async with signed_in(port, bearer) as ws:
        subscribe = {"query": SUBSCRIBE, "variables": {"id": order_id}}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": subscribe}))
        message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 10))
        return message


async def test_the_legacy_graphql_ws_protocol_is_not_served(system):
    async with served(system.app) as port:
        try:
            async with websockets.connect(
                f"ws://127.0.0.1:{port}/graphql", subprotocols=[Subprotocol("graphql-ws")]
            ) as ws:
                payload = {"Authorization": f"Bearer {token()}"}
                await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
                answer = await asyncio.wait_for(ws.recv(), 10)
        except (websockets.ConnectionClosed, websockets.InvalidStatus) as refused:
            answer = None
            assert not isinstance(refused, websockets.ConnectionClosed) or (
                refused.rcvd is not None and refused.rcvd.code >= 4000
            )
    assert answer is None


async def test_someone_elses_order_cannot_be_followed(system):
    product = await stocked_product(system.gql, stock=1)
    carol = system.gql.as_user(token("carol", role="customer"))
    order_id = (await place(carol, [(product["id"], 1)], user=None))["data"]["createOrder"]["id"]
    dave = token("dave", role="customer")
    async with served(system.app) as port:
        theirs = await first_answer(port, dave, order_id)
        missing = await first_answer(port, dave, "no-such-order")
    # Exactly as for an order that does not exist: nothing to tell the ids apart.
    [their_error] = theirs["payload"]["errors"]
    [missing_error] = missing["payload"]["errors"]
    assert their_error["message"].replace(order_id, "ID") == missing_error["message"].replace(
        "no-such-order", "ID"
    )
    assert "does not exist" in their_error["message"]
    # Errors over the socket are coded and masked exactly as over HTTP.
    assert (
        their_error["extensions"]
        == missing_error["extensions"]
        == {
            "code": "NOT_FOUND",
            "field": "id",
        }
    )


async def test_queries_over_the_socket_get_coded_errors_too(system):
    async with served(system.app) as port, signed_in(port, token()) as ws:
        query = {"query": "{ products(first: 0) { id } }"}
        await ws.send(json.dumps({"id": "q", "type": "subscribe", "payload": query}))
        message = json.loads(await asyncio.wait_for(ws.recv(), 10))
    [error] = message["payload"]["errors"]
    assert error["extensions"] == {"code": "VALIDATION", "field": "first"}


async def test_each_status_change_arrives_in_order(system):
    async with served(system.app) as port:
        product = await stocked_product(system.gql, price=700, stock=2)
        order_id = (await place(system.gql, [(product["id"], 2)]))["data"]["createOrder"]["id"]

        updates = await collect(port, {"id": order_id})
        # A client that reconnects after version 3 gets the rest, and only that.
        resumed = await collect(port, {"id": order_id, "after": 3})
        # Past the final change there is nothing more to wait for: it ends at once.
        assert await collect(port, {"id": order_id, "after": 99}) == []

    assert [u["status"] for u in updates] == [
        "PENDING",
        "STOCK_RESERVED",
        "STOCK_RESERVED",  # checked for fraud: the step moves on, the status stays
        "PAYMENT_PROCESSED",
        "SHIPPING_ARRANGED",
        "CONFIRMED",
    ]
    assert [u["version"] for u in updates] == [1, 2, 3, 4, 5, 6]
    assert [u["currentStep"] for u in updates] == [
        "RESERVE_STOCK",
        "CHECK_FRAUD",
        "PROCESS_PAYMENT",
        "ARRANGE_SHIPPING",
        "CONFIRM_ORDER",
        None,
    ]
    assert updates[-1]["sagaStatus"] == "COMPLETED"
    assert {u["orderId"] for u in updates} == {order_id}
    # Each update reads the order afresh: the last one sees it confirmed.
    assert updates[-1]["order"] == {"totalAmount": 1400, "status": "CONFIRMED"}
    # The same changes (the order they show is read when each is sent, so it may differ).
    changes = [{k: v for k, v in u.items() if k != "order"} for u in updates]
    assert [{k: v for k, v in u.items() if k != "order"} for u in resumed] == changes[3:]
