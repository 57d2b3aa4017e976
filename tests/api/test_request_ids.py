"""A repeated requestId returns the same result and changes nothing twice."""

from __future__ import annotations

import asyncio
import uuid

import sqlalchemy as sa

from tests.api.catalog_client import (
    create_category,
    create_product,
    error_of,
    event_count,
    unique,
)
from tests.conftest import token
from tests.orders_client import place, stocked_product, until_final

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


CREATE_CATEGORY = (
    "mutation($n: String!, $r: String) { createCategory(input: {name: $n}, requestId: $r) { id } }"
)


async def test_a_request_id_reused_with_other_input_is_a_conflict(system, engine):
    request_id = str(uuid.uuid4())
    await system.gql.data(CREATE_CATEGORY, {"n": unique("First"), "r": request_id})
    before = await event_count(engine)
    body = await system.gql(CREATE_CATEGORY, {"n": unique("Second"), "r": request_id})
    assert error_of(body) == {
        "code": "CONFLICT",
        "field": "requestId",
        "message": "this requestId was used before with other input; send a new requestId",
    }
    assert await event_count(engine) == before


async def test_concurrent_requests_of_one_request_id_with_other_input_never_share_a_result(system):
    request_id = str(uuid.uuid4())
    names = [unique(f"Racer{n}") for n in range(4)]
    bodies = await asyncio.gather(
        *(system.gql(CREATE_CATEGORY, {"n": name, "r": request_id}) for name in names)
    )
    applied = [body for body in bodies if body.get("data") and body["data"]["createCategory"]]
    assert len(applied) == 1, bodies
    for body in bodies:
        if body not in applied:
            assert error_of(body)["field"] == "requestId"


async def test_an_order_request_id_reused_with_other_lines_is_a_conflict(system):
    product = await stocked_product(system.gql, stock=5)
    request_id = str(uuid.uuid4())
    first = await place(system.gql, [(product["id"], 1)], request_id=request_id)
    order_id = first["data"]["createOrder"]["id"]
    again = await place(system.gql, [(product["id"], 1)], request_id=request_id)
    assert again["data"]["createOrder"]["id"] == order_id
    other = await place(system.gql, [(product["id"], 2)], request_id=request_id)
    assert (error_of(other)["code"], error_of(other)["field"]) == ("CONFLICT", "requestId")
    assert (await until_final(system.gql, order_id))["items"][0]["quantity"] == 1


async def test_one_request_id_of_two_callers_is_two_commands(system):
    request_id = str(uuid.uuid4())
    alice = system.gql.as_user(token("alice"))
    bob = system.gql.as_user(token("bob"))
    first = await alice.data(CREATE_CATEGORY, {"n": unique("Alice"), "r": request_id})
    second = await bob.data(CREATE_CATEGORY, {"n": unique("Bob"), "r": request_id})
    assert first["createCategory"]["id"] != second["createCategory"]["id"]
