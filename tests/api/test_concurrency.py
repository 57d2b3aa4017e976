"""Concurrent commands through the API: conflicts are retried, rules still hold."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from tests.api.catalog_client import create_category, create_product, error_of, unique

ADD_STOCK = (
    "mutation($p: ID!, $q: Int!) { addStock(input: {productId: $p, quantity: $q}) { stock } }"
)


async def test_concurrent_stock_additions_all_count(system):
    category = await create_category(system.gql)
    product = await create_product(system.gql, category["id"])
    quantities = list(range(1, 21))
    bodies = await asyncio.gather(
        *(system.gql(ADD_STOCK, {"p": product["id"], "q": q}) for q in quantities)
    )
    assert all("errors" not in body for body in bodies), bodies
    final = await system.gql.data('{ product(id: "%s") { stock } }' % product["id"])
    assert final["product"]["stock"] == sum(quantities)


async def test_concurrent_creates_of_one_name_make_one_category(system, engine):
    name = unique("Contested")
    query = "mutation($n: String!) { createCategory(input: {name: $n}) { id } }"
    bodies = await asyncio.gather(*(system.gql(query, {"n": name}) for _ in range(10)))
    winners = [body for body in bodies if "errors" not in body]
    losers = [error_of(body) for body in bodies if "errors" in body]
    assert len(winners) == 1
    assert [(e["code"], e["field"]) for e in losers] == [("CONFLICT", "name")] * 9
    async with engine.connect() as conn:
        count = await conn.scalar(
            sa.text("SELECT count(*) FROM read.categories WHERE name = :n"), {"n": name}
        )
        created = await conn.scalar(
            sa.text(
                "SELECT count(*) FROM eventstore.events "
                "WHERE event_type = 'CategoryCreated' AND data->>'name' = :n"
            ),
            {"n": name},
        )
    assert (count, created) == (1, 1)


async def test_deleting_a_category_while_a_product_is_created_in_it(system, engine):
    """Either the product exists in a live category, or the category is gone and no product."""
    outcomes = set()
    for _ in range(8):
        category = await create_category(system.gql)
        delete, create = await asyncio.gather(
            system.gql("mutation($id: ID!) { deleteCategory(id: $id) }", {"id": category["id"]}),
            system.gql(
                'mutation($c: ID!) { createProduct(input: {name: "Racer", price: 1, '
                "categoryId: $c}) { id } }",
                {"c": category["id"]},
            ),
        )
        deleted, created = "errors" not in delete, "errors" not in create
        assert deleted != created, (delete, create)
        if deleted:
            assert error_of(create)["code"] == "NOT_FOUND"
        else:
            assert error_of(delete)["code"] == "CONFLICT"
        outcomes.add("deleted" if deleted else "created")
    async with engine.connect() as conn:
        orphans = await conn.scalar(
            sa.text(
                "SELECT count(*) FROM read.products p "
                "LEFT JOIN read.categories c ON c.id = p.category_id WHERE c.id IS NULL"
            )
        )
    assert orphans == 0
