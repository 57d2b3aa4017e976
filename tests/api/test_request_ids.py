"""A repeated requestId returns the same result and changes nothing twice."""

from __future__ import annotations

import asyncio
import uuid

import sqlalchemy as sa

from tests.api.catalog_client import create_category, create_product, event_count, unique

ADD_STOCK = (
    "mutation($p: ID!, $r: String) { addStock(input: {productId: $p, quantity: 2}, requestId: $r)"
    " { stock } }"
)


async def test_a_repeated_create_returns_the_same_category_once(system, engine):
    query = (
        "mutation($n: String!, $r: String) { createCategory(input: {name: $n}, requestId: $r)"
        " { id name } }"
    )
    variables = {"n": unique("Once"), "r": str(uuid.uuid4())}
    first = await system.gql.data(query, variables)
    before = await event_count(engine)
    again = await system.gql.data(query, variables)
    assert again == first
    assert await event_count(engine) == before


async def test_concurrent_repeats_apply_once(system, engine):
    category = await create_category(system.gql)
    product = await create_product(system.gql, category["id"])
    request_id = str(uuid.uuid4())
    bodies = await asyncio.gather(
        *(system.gql(ADD_STOCK, {"p": product["id"], "r": request_id}) for _ in range(5))
    )
    assert [body["data"]["addStock"]["stock"] for body in bodies] == [2] * 5
    async with engine.connect() as conn:
        additions = await conn.scalar(
            sa.text("SELECT count(*) FROM eventstore.events WHERE stream_id = :s"),
            {"s": f"stock-{product['id']}"},
        )
    assert additions == 1


async def test_without_a_request_id_each_request_is_new(system):
    category = await create_category(system.gql)
    product = await create_product(system.gql, category["id"])
    for expected in (2, 4):
        data = await system.gql.data(ADD_STOCK, {"p": product["id"], "r": None})
        assert data["addStock"]["stock"] == expected


async def test_the_same_request_id_on_another_mutation_is_another_command(system):
    request_id = str(uuid.uuid4())
    query = (
        "mutation($n: String!, $r: String) { createCategory(input: {name: $n}, requestId: $r)"
        " { id } }"
    )
    category = (await system.gql.data(query, {"n": unique("A"), "r": request_id}))["createCategory"]
    product = (
        await system.gql.data(
            'mutation($c: ID!, $r: String) { createProduct(input: {name: "P", price: 1, '
            "categoryId: $c}, requestId: $r) { id category { id } } }",
            {"c": category["id"], "r": request_id},
        )
    )["createProduct"]
    assert product["category"]["id"] == category["id"]
    assert product["id"] != category["id"]
