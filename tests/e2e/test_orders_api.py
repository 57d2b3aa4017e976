"""createOrder's input rules, idempotency, queries and concurrency."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import sqlalchemy as sa

from tests.api.catalog_client import error_of, event_count
from tests.orders_client import (
    ORDER_FIELDS,
    place,
    stock_of,
    stocked_product,
    until_final,
)


async def expect_invalid(system, engine, items, *, code, field):
    before = await event_count(engine)
    error = error_of(await place(system.gql, items))
    assert (error["code"], error["field"]) == (code, field), error
    assert await event_count(engine) == before


async def test_bad_orders_are_refused_and_write_nothing(system, engine):
    product = await stocked_product(system.gql, price=100_000_000, stock=0)
    cheap = await stocked_product(system.gql, price=1, stock=0)
    pid = cheap["id"]
    await expect_invalid(system, engine, [("nope", 1)], code="NOT_FOUND", field="productId")
    await expect_invalid(system, engine, [(pid, 0)], code="VALIDATION", field="items.0.quantity")
    await expect_invalid(system, engine, [(pid, 1001)], code="VALIDATION", field="items.0.quantity")
    await expect_invalid(system, engine, [], code="VALIDATION", field="items")
    await expect_invalid(system, engine, [(pid, 1), (pid, 2)], code="VALIDATION", field="items")
    # 100,000,000 yen x 22 does not fit the Int the total is returned as.
    await expect_invalid(system, engine, [(product["id"], 22)], code="VALIDATION", field="items")
    many = [await stocked_product(system.gql, stock=0) for _ in range(101)]
    await expect_invalid(
        system, engine, [(p["id"], 1) for p in many], code="VALIDATION", field="items"
    )


async def test_the_same_request_id_places_one_order(system, engine):
    product = await stocked_product(system.gql, stock=5)
    request_id = str(uuid.uuid4())
    first = (await place(system.gql, [(product["id"], 1)], request_id=request_id))["data"]
    again = await asyncio.gather(
        *(place(system.gql, [(product["id"], 1)], request_id=request_id) for _ in range(3))
    )
    order_id = first["createOrder"]["id"]
    assert {body["data"]["createOrder"]["id"] for body in again} == {order_id}
    await until_final(system.gql, order_id)
    late = (await place(system.gql, [(product["id"], 1)], request_id=request_id))["data"]
    assert late["createOrder"]["id"] == order_id
    assert late["createOrder"]["status"] == "CONFIRMED"
    async with engine.connect() as conn:
        placed = await conn.scalar(
            sa.text(
                "SELECT count(*) FROM eventstore.events WHERE event_type = 'OrderPlaced'"
                " AND stream_id = :s"
            ),
            {"s": f"order-{order_id}"},
        )
    assert placed == 1
    assert await stock_of(system.gql, product["id"]) == 4


async def test_orders_of_a_user_page_oldest_first(system):
    product = await stocked_product(system.gql, stock=10)
    user = f"user-{uuid.uuid4()}"
    placed = [
        (await place(system.gql, [(product["id"], 1)], user=user))["data"]["createOrder"]["id"]
        for _ in range(3)
    ]
    query = "query($u: ID, $a: ID) { orders(userId: $u, first: 2, after: $a) { id userId } }"
    first = (await system.gql.data(query, {"u": user, "a": None}))["orders"]
    rest = (await system.gql.data(query, {"u": user, "a": first[-1]["id"]}))["orders"]
    assert [o["id"] for o in first + rest] == placed
    assert {o["userId"] for o in first + rest} == {user}


@pytest.mark.parametrize("orders,stock", [(50, 10)])
async def test_concurrent_orders_never_oversell(system, engine, orders, stock):
    product = await stocked_product(system.gql, stock=stock)
    bodies = await asyncio.gather(*(place(system.gql, [(product["id"], 1)]) for _ in range(orders)))
    ids = [body["data"]["createOrder"]["id"] for body in bodies]
    finals = await asyncio.gather(*(until_final(system.gql, i, within=120) for i in ids))
    statuses = [f["status"] for f in finals]
    assert statuses.count("CONFIRMED") == stock
    assert statuses.count("CANCELLED") == orders - stock
    assert await stock_of(system.gql, product["id"]) == 0
    async with engine.connect() as conn:
        levels = (
            await conn.execute(
                sa.text(
                    "SELECT (data->>'level')::int AS level FROM eventstore.events "
                    "WHERE stream_id = :s"
                ),
                {"s": f"stock-{product['id']}"},
            )
        ).scalars()
        assert min(levels) >= 0


async def test_order_query_shape(system):
    product = await stocked_product(system.gql, stock=1)
    order_id = (await place(system.gql, [(product["id"], 1)]))["data"]["createOrder"]["id"]
    await until_final(system.gql, order_id)
    data = await system.gql.data(
        "query($id: ID!) { order(id: $id) { %s createdAt updatedAt } }" % ORDER_FIELDS,
        {"id": order_id},
    )
    assert data["order"]["status"] == "CONFIRMED"
    assert (await system.gql.data('{ order(id: "nope") { id } }'))["order"] is None
