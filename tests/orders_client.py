"""Order operations and checks for the saga tests."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import sqlalchemy as sa

from tests.api.catalog_client import create_category, create_product

ORDER_FIELDS = """
  id userId status totalAmount
  sagaState { state status currentStep startedAt completedAt failureReason compensations }
  items { productId productName quantity price subtotal }
"""
CREATE_ORDER = (
    "mutation($input: CreateOrderInput!, $r: String) { createOrder(input: $input, requestId: $r)"
    " { %s } }" % ORDER_FIELDS
)
FINAL = {"CONFIRMED", "CANCELLED", "FAILED"}


async def stocked_product(gql, *, price: int = 1000, stock: int = 10) -> dict[str, Any]:
    category = await create_category(gql)
    product = await create_product(gql, category["id"], name="Widget", price=price)
    if stock:
        await gql.data(
            "mutation($p: ID!, $q: Int!) { addStock(input: {productId: $p, quantity: $q}) { id } }",
            {"p": product["id"], "q": stock},
        )
    return product


async def place(gql, items: list[tuple[str, int]], *, user: str = "user-123", request_id=None):
    """The raw response of createOrder."""
    return await gql(
        CREATE_ORDER,
        {
            "input": {
                "userId": user,
                "items": [{"productId": p, "quantity": q} for p, q in items],
            },
            "r": request_id,
        },
    )


async def order(gql, order_id: str) -> dict[str, Any]:
    data = await gql.data(
        "query($id: ID!) { order(id: $id) { %s } }" % ORDER_FIELDS, {"id": order_id}
    )
    found: dict[str, Any] = data["order"]
    return found


async def until_final(gql, order_id: str, *, within: float = 30.0) -> dict[str, Any]:
    """Poll until the order reaches CONFIRMED, CANCELLED or FAILED."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        current = await order(gql, order_id)
        if current["status"] in FINAL:
            return current
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"order never finished: {current}")
        await asyncio.sleep(0.05)


async def until(gql, order_id: str, predicate, *, within: float = 15.0) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        current = await order(gql, order_id)
        if predicate(current):
            return current
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"order never got there: {current}")
        await asyncio.sleep(0.02)


async def stock_of(gql, product_id: str) -> int:
    data = await gql.data("query($id: ID!) { product(id: $id) { stock } }", {"id": product_id})
    stock: int = data["product"]["stock"]
    return stock


async def event_types(engine, stream_id: str) -> list[str]:
    return [event_type for event_type, _ in await stored_events(engine, stream_id)]


async def stored_events(engine, stream_id: str) -> list[tuple[str, dict[str, Any]]]:
    """A stream's events as stored: each one's type and data."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.text(
                "SELECT event_type, data FROM eventstore.events WHERE stream_id = :s"
                " ORDER BY version"
            ),
            {"s": stream_id},
        )
        return [(row.event_type, row.data) for row in rows]


async def faults(psp_url: str, **faults: Any) -> None:
    """Set the payment provider's faults (all others cleared)."""
    async with httpx.AsyncClient(base_url=psp_url) as client:
        (await client.put("/control", json=faults)).raise_for_status()


async def ledger(psp_url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=psp_url) as client:
        body: dict[str, Any] = (await client.get("/v1/charges")).json()
        return body
