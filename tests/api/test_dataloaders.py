"""Lists resolve related objects in batches: the statement count does not grow with the list."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from tests.api.catalog_client import create_category, create_product

QUERY = "query($n: Int!) { products(first: $n) { id name price category { id name } } }"


@contextmanager
def counting_statements(engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


async def test_a_hundred_products_with_categories_cost_two_statements(system):
    categories = [await create_category(system.gql) for _ in range(5)]
    for batch in range(10):
        await asyncio.gather(
            *(
                create_product(system.gql, categories[(batch + i) % 5]["id"], name=f"P{batch}-{i}")
                for i in range(10)
            )
        )

    engine = system.app.state.services.engine
    counts = {}
    for size in (10, 100):
        with counting_statements(engine) as statements:
            products = (await system.gql.data(QUERY, {"n": size}))["products"]
        assert len(products) == size
        assert len({p["category"]["id"] for p in products}) > 1
        # One transaction, which begins by naming its tenant (row-level security).
        queries = [s for s in statements if "set_config" not in s]
        assert len(statements) == len(queries) + 1
        counts[size] = len(queries)
    assert counts == {10: 2, 100: 2}
