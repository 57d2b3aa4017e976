"""`orderUpdated` over graphql-transport-ws, from a real server."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import uvicorn
import websockets
from websockets.typing import Subprotocol

from tests.conftest import token
from tests.saga.orders_client import place, stocked_product

SUBSCRIBE = (
    "subscription($id: ID!, $after: Int! = 0) { orderUpdated(orderId: $id, afterVersion: $after) "
    "{ orderId version status sagaStatus currentStep order { totalAmount } } }"
)


async def collect(
    port: int, variables: dict[str, Any], bearer: str | None = None
) -> list[dict[str, Any]]:
    """Every `next` payload of one subscription, until the server completes it."""
    bearer = bearer or token()
    updates = []
    async with websockets.connect(
        f"ws://127.0.0.1:{port}/graphql", subprotocols=[Subprotocol("graphql-transport-ws")]
    ) as ws:
        await ws.send(
            json.dumps(
                {"type": "connection_init", "payload": {"Authorization": f"Bearer {bearer}"}}
            )
        )
        assert json.loads(await ws.recv())["type"] == "connection_ack"
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
            message = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if message["type"] == "complete":
                return updates
            assert message["type"] == "next", message
            updates.append(message["payload"]["data"]["orderUpdated"])


async def test_each_status_change_arrives_in_order(system):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # The app is already started by the fixture; serve it without a second lifespan.
    server = uvicorn.Server(
        uvicorn.Config(system.app, host="127.0.0.1", port=port, lifespan="off", log_config=None)
    )
    serving = asyncio.create_task(server.serve())
    try:
        for _ in range(200):
            if server.started:
                break
            await asyncio.sleep(0.01)
        product = await stocked_product(system.gql, price=700, stock=2)
        order_id = (await place(system.gql, [(product["id"], 2)]))["data"]["createOrder"]["id"]

        updates = await collect(port, {"id": order_id})
        # A client that reconnects after version 3 gets the rest, and only that.
        resumed = await collect(port, {"id": order_id, "after": 3})
    finally:
        server.should_exit = True
        await serving

    assert [u["status"] for u in updates] == [
        "PENDING",
        "STOCK_RESERVED",
        "PAYMENT_PROCESSED",
        "SHIPPING_ARRANGED",
        "CONFIRMED",
    ]
    assert [u["version"] for u in updates] == [1, 2, 3, 4, 5]
    assert [u["currentStep"] for u in updates] == [
        "RESERVE_STOCK",
        "PROCESS_PAYMENT",
        "ARRANGE_SHIPPING",
        "CONFIRM_ORDER",
        None,
    ]
    assert updates[-1]["sagaStatus"] == "COMPLETED"
    assert {u["orderId"] for u in updates} == {order_id}
    assert updates[-1]["order"] == {"totalAmount": 1400}
    assert resumed == updates[3:]
