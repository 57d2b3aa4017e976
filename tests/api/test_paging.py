"""Every list is paged: `first` has a maximum, and `after` walks the whole list once."""

from __future__ import annotations

from typing import Any

import pytest

from projector import rebuild
from read_models.order_timeline import ORDER_TIMELINE
from read_models.price_history import PRICE_HISTORY
from tests.api.catalog_client import create_category, create_product, error_of, unique
from tests.orders_client import place, stocked_product, until_final


async def walk(gql, query: str, path: list[str], cursor: str, **variables: Any) -> list[Any]:
    """Every item of a list, two at a time, following `after` from each page's last item."""
    seen: list[Any] = []
    after = None
    while True:
        page: Any = await gql.data(query, {**variables, "after": after})
        for key in path:
            page = page[key]
        assert len(page) <= 2
        if not page:
            return seen
        seen.extend(page)
        after = page[-1][cursor]


async def test_categories_page_by_name(system):
    prefix = unique("Paged")
    for suffix in ("c", "a", "b"):
        await create_category(system.gql, f"{prefix}-{suffix}")
    query = "query($after: ID) { categories(first: 2, after: $after) { id name } }"
    walked = await walk(system.gql, query, ["categories"], "id")
    whole = (await system.gql.data("{ categories(first: 1000) { id name } }"))["categories"]
    assert walked == whole
    ours = [c["name"] for c in walked if c["name"].startswith(prefix)]
    assert ours == [f"{prefix}-a", f"{prefix}-b", f"{prefix}-c"]


async def test_a_category_pages_its_products_and_refuses_another_categorys_cursor(system):
    category, other = await create_category(system.gql), await create_category(system.gql)
    made = [await create_product(system.gql, category["id"], name=f"P{i}") for i in range(5)]
    elsewhere = await create_product(system.gql, other["id"])
    query = (
        "query($id: ID!, $after: ID) { category(id: $id) { products(first: 2, after: $after) "
        "{ id } } }"
    )
    walked = await walk(system.gql, query, ["category", "products"], "id", id=category["id"])
    assert [p["id"] for p in walked] == [p["id"] for p in made]

    foreign = error_of(await system.gql(query, {"id": category["id"], "after": elsewhere["id"]}))
    assert (foreign["code"], foreign["field"]) == ("VALIDATION", "after")
    # Two categories in one query still cost one statement per page shape.
    both = await system.gql.data(
        "query($a: ID!, $b: ID!) { a: category(id: $a) { products(first: 1) { id } } "
        "b: category(id: $b) { products(first: 1) { id } } }",
        {"a": category["id"], "b": other["id"]},
    )
    assert both["a"]["products"] == [{"id": made[0]["id"]}]
    assert both["b"]["products"] == [{"id": elsewhere["id"]}]


async def test_a_price_history_pages_by_cursor(system, engine, store):
    category = await create_category(system.gql)
    product = await create_product(system.gql, category["id"], price=100)
    reprice = "mutation($p: ID!, $v: Int!) { updateProduct(id: $p, input: {price: $v}) { id } }"
    for price in (110, 120, 130, 140):
        await system.gql.data(reprice, {"p": product["id"], "v": price})
    await rebuild(engine, store, PRICE_HISTORY)
    query = (
        "query($id: ID!, $after: String) { product(id: $id) { "
        "priceHistory(first: 2, after: $after) { price cursor } } }"
    )
    walked = await walk(system.gql, query, ["product", "priceHistory"], "cursor", id=product["id"])
    assert [p["price"] for p in walked] == [100, 110, 120, 130, 140]


async def test_a_timeline_pages_by_cursor(system, engine, store):
    product = await stocked_product(system.gql)
    order_id = (await place(system.gql, [(product["id"], 1)]))["data"]["createOrder"]["id"]
    await until_final(system.gql, order_id)
    await rebuild(engine, store, ORDER_TIMELINE)
    whole_query = "query($id: ID!) { order(id: $id) { timeline(first: 1000) { type version } } }"
    whole = (await system.gql.data(whole_query, {"id": order_id}))["order"]["timeline"]
    query = (
        "query($id: ID!, $after: String) { order(id: $id) { "
        "timeline(first: 2, after: $after) { type version cursor } } }"
    )
    walked = await walk(system.gql, query, ["order", "timeline"], "cursor", id=order_id)
    assert len(whole) >= 4
    assert [{"type": e["type"], "version": e["version"]} for e in walked] == whole


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("{ categories(first: 1001) { id } }", "first"),
        ("{ categories(first: 0) { id } }", "first"),
        ('{ categories(after: "no-such-category") { id } }', "after"),
        ("{ categories(first: 1) { products(first: 5000) { id } } }", "first"),
        ('{ products(first: 1) { priceHistory(after: "bm90LWEtY3Vyc29y") { price } } }', "after"),
        ('{ products(first: 1) { priceHistory(after: "!!!") { price } } }', "after"),
        (
            '{ products(first: 1) { priceHistory(after: "OTk5OTk5OTk5OTk5OTk5OTk5OTkuMQ==") '
            "{ price } } }",
            "after",
        ),
        ("{ orders(first: 1) { timeline(first: -1) { type } } }", "first"),
    ],
    ids=[
        "first over the maximum",
        "first of zero",
        "an unknown category",
        "a nested first over the maximum",
        "a cursor that is not one",
        "a cursor that is not base64",
        "a cursor past the largest log position",
        "a negative nested first",
    ],
)
async def test_bad_paging_arguments_are_typed_errors(system, query, field):
    await stocked_product(system.gql)  # at least one product and category to nest under
    refused = error_of(await system.gql(query))
    assert (refused["code"], refused["field"]) == ("VALIDATION", field), refused
