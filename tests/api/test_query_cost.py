"""The cost rule counts what a query could return at worst, exactly as documented."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import OperationDefinitionNode, parse

from api.graphql.schema import build_schema
from api.guards.cost import MAX_PAGE, query_cost
from domain.orders import MAX_LINES

SCHEMA = build_schema()._schema


def cost(document: str, variables: dict[str, Any] | None = None) -> int:
    parsed = parse(document)
    operation = next(d for d in parsed.definitions if isinstance(d, OperationDefinitionNode))
    return query_cost(SCHEMA, parsed, operation, variables or {}, unbounded_list=MAX_PAGE)


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ("{ products(first: 10) { id name } }", 10),
        ("{ products(first: 10) { id category { id } } }", 10 * (1 + 1)),
        ("{ products { id } }", 100),  # `first` left out counts its default
        ("{ product(id: 1) { id category { id } } }", 1 + 1),
        (
            "{ categories(first: 5) { products(first: 7) { priceHistory(first: 3) { price } } } }",
            5 * (1 + 7 * (1 + 3)),
        ),
        ("{ a: products(first: 2) { id } b: products(first: 3) { id } }", 5),
        ("{ order(id: 1) { items { productId } } }", 1 + MAX_LINES),
        ("{ orders(first: 2) { timeline(first: 4) { type } } }", 2 * (1 + 4)),
        ("{ __schema { types { fields { name } } } }", 0),
        ("{ __typename products(first: 1) { __typename } }", 1),
        ("{ noSuchField { id } }", 0),
    ],
)
def test_the_cost_of_a_query(document, expected):
    assert cost(document) == expected


def test_fragments_count_where_they_are_spread():
    document = """
        { products(first: 10) { ...P } }
        fragment P on Product { category { ...C } }
        fragment C on Category { products(first: 20) { id } }
    """
    assert cost(document) == 10 * (1 + 1 * (1 + 20))


def test_inline_fragments_count_too():
    assert cost("{ products(first: 4) { ... on Product { category { id } } } }") == 4 * 2


def test_a_fragment_cycle_ends():
    # The document is invalid (another rule says so); counting it must still end.
    document = """
        { products(first: 2) { ...A } }
        fragment A on Product { category { ...B } }
        fragment B on Category { products(first: 3) { ...A } }
    """
    assert cost(document) == 2 * (1 + 1 * (1 + 3))  # the second A adds nothing


def test_first_from_a_variable_its_default_or_the_largest_page():
    document = "query($n: Int = 7) { products(first: $n) { id } }"
    assert cost(document, {"n": 3}) == 3
    assert cost(document) == 7
    assert cost("query($n: Int) { products(first: $n) { id } }") == MAX_PAGE
    assert cost("query($n: Int) { products(first: $n) { id } }", {"n": "many"}) == MAX_PAGE


def test_mutations_and_subscriptions_are_counted_like_queries():
    assert cost("mutation { createOrder(input: {items: []}) { id items { price } } }") == 1 + 100
    assert cost("subscription { orderUpdated(orderId: 1) { order { id } } }") == 1 + 1
