"""A hostile request gets a typed error at once, costs no SQL, and never reaches a workflow."""

from __future__ import annotations

import pytest

from tests.api.catalog_client import create_category, error_of, event_count, unique
from tests.conftest import sql_statements, token
from tests.orders_client import faults, place, stocked_product, until, until_final

CREATE_CATEGORY = "mutation($n: String!) { createCategory(input: {name: $n}) { id name } }"


# Each fragment spreads the next one twice: 300 tokens, 2**30 fields once expanded.
DOUBLING_FRAGMENTS = (
    "{ ...F0 } "
    + " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(30))
    + " fragment F30 on Query { __typename }"
)


def nested(depth: int) -> str:
    """`products { category { products { … id } } }`, `depth` fields deep."""
    fields = ["products" if level % 2 == 0 else "category" for level in range(depth)]
    return "{ " + " ".join(f"{field} {{" for field in fields) + " id" + " }" * (depth + 1)


def aliased(count: int) -> str:
    return "{ " + " ".join(f"a{n}: categories {{ id }}" for n in range(count)) + " }"


def aliased_in_a_fragment(count: int) -> str:
    fields = " ".join(f"a{n}: categories {{ id }}" for n in range(count))
    return "query { ...Many } fragment Many on Query { " + fields + " }"


@pytest.mark.parametrize(
    ("document", "limit"),
    [
        (nested(30), "depth"),
        (aliased(300), "alias"),
        (aliased_in_a_fragment(200), "alias"),
        ("{ " + "categories { id } " * 1500 + "}", "token"),
        ("{ products(first: 1000) { category { products(first: 1000) { id } } } }", "cost"),
        (
            "{ products(first: 1000) { ...P } } fragment P on Product "
            "{ category { products(first: 30) { id } } }",
            "cost",
        ),
        ("{ orders(first: 1000) { items { productId } } }", "cost"),
        (DOUBLING_FRAGMENTS, "expanded"),
        ("{ categories(first: " + "9" * 5000 + ") { id } }", "number"),
    ],
    ids=[
        "30 levels deep",
        "300 aliases",
        "200 aliases in a fragment",
        "6,000 tokens",
        "a million products",
        "31,000 products through a fragment",
        "100,000 order lines",
        "a billion fields through doubling fragments",
        "a number of 5,000 digits",
    ],
)
async def test_a_query_over_a_limit_is_refused_before_any_sql(system, document, limit):
    with sql_statements(system) as statements:
        body = await system.gql(document)
    # A query over several limits hears of each; the first named is the cheapest check.
    assert body.get("data") is None, body
    assert {error["extensions"]["code"] for error in body["errors"]} == {"VALIDATION"}
    assert limit in body["errors"][0]["message"].lower(), body
    assert statements == []


async def test_the_cost_of_first_from_variables_is_the_value_sent(system):
    document = "query($n: Int!) { products(first: $n) { category { products(first: $n) { id } } } }"
    with sql_statements(system) as statements:
        refused = error_of(await system.gql(document, {"n": 200}))
    assert refused["code"] == "VALIDATION" and "cost limit of 20,000" in refused["message"]
    assert statements == []
    answered = await system.gql(document, {"n": 2})
    assert "errors" not in answered and len(answered["data"]["products"]) <= 2


async def test_a_huge_number_in_the_variables_is_a_typed_error(system):
    body = b'{"query": "query($n: Int) { categories(first: $n) { id } }", "variables": {"n": '
    response = await system.http.post(
        "/graphql",
        content=body + b"9" * 5000 + b"}}",
        headers={"content-type": "application/json", "authorization": "Bearer " + token()},
    )
    assert response.status_code in (200, 400)
    assert "Traceback" not in response.text and "Internal" not in response.text
    if response.status_code == 200:
        assert response.json()["errors"][0]["extensions"]["code"] == "VALIDATION"


async def test_a_body_over_the_cap_is_413_before_it_is_parsed(system):
    body = b'{"query": "{ categories { id } }", "padding": "' + b"x" * 1_100_000 + b'"}'
    response = await system.http.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "VALIDATION"


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        (CREATE_CATEGORY, {"n": "Bad\u0000Name"}),
        ("query($id: ID!) { product(id: $id) { id } }", {"id": "p\u0000"}),
        ("query($id: ID!) { order(id: $id) { id } }", {"id": "o\u0000"}),
        ('{ product(id: "p\\u0000") { id } }', {}),
    ],
    ids=["NUL in a name", "NUL in a product id", "NUL in an order id", "NUL in a literal"],
)
async def test_a_nul_byte_anywhere_is_refused_at_once(system, engine, query, variables):
    before = await event_count(engine)
    with sql_statements(system) as statements:
        refused = error_of(await system.gql(query, variables))
    assert refused["code"] == "VALIDATION" and "control characters" in refused["message"]
    assert statements == []
    assert await event_count(engine) == before


@pytest.mark.parametrize(
    "name",
    ["Evil\u202eName", "Zero\u200bWidth", "Tab\tName"],
    ids=["bidi override", "zero width space", "tab"],
)
async def test_names_refuse_invisible_characters(system, engine, name):
    before = await event_count(engine)
    refused = error_of(await system.gql(CREATE_CATEGORY, {"n": name}))
    assert (refused["code"], refused["field"]) == ("VALIDATION", "name")
    assert await event_count(engine) == before


async def test_names_are_nfkc_normalised_before_the_uniqueness_check(system):
    name = unique("Lamps")
    await create_category(system.gql, name)
    wide = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in name)
    refused = error_of(await system.gql(CREATE_CATEGORY, {"n": wide}))
    assert refused["code"] == "CONFLICT"


async def test_thousands_of_order_lines_are_counted_before_any_is_looked_up(system):
    lines = [{"productId": f"p{n}", "quantity": 1} for n in range(5000)]
    query = "mutation($input: CreateOrderInput!) { createOrder(input: $input) { id } }"
    with sql_statements(system) as statements:
        refused = error_of(await system.gql(query, {"input": {"items": lines}}))
    assert (refused["code"], refused["field"]) == ("VALIDATION", "items")
    assert statements == []


async def test_long_request_ids_and_reasons_are_refused(system):
    long_id = error_of(
        await system.gql(
            CREATE_CATEGORY.replace(
                "createCategory(input: {name: $n})",
                'createCategory(input: {name: $n}, requestId: "' + "r" * 201 + '")',
            ),
            {"n": unique("R")},
        )
    )
    assert (long_id["code"], long_id["field"]) == ("VALIDATION", "requestId")
    cancel = "mutation($id: ID!, $r: String!) { cancelOrder(id: $id, reason: $r) { id } }"
    long_reason = error_of(await system.gql(cancel, {"id": "any", "r": "x" * 501}))
    assert (long_reason["code"], long_reason["field"]) == ("VALIDATION", "reason")


async def test_a_poisoned_cancel_never_reaches_a_live_saga(system, psp_url):
    product = await stocked_product(system.gql, stock=3)
    await faults(psp_url, latency_ms=700)
    try:
        order_id = (await place(system.gql, [(product["id"], 1)]))["data"]["createOrder"]["id"]
        await until(
            system.gql, order_id, lambda o: o["sagaState"]["currentStep"] == "PROCESS_PAYMENT"
        )
        cancel = "mutation($id: ID!, $r: String!) { cancelOrder(id: $id, reason: $r) { id } }"
        with sql_statements(system) as statements:
            refused = error_of(await system.gql(cancel, {"id": order_id, "r": "stop\u0000now"}))
        # Refused before it read anything, let alone signalled the saga.
        assert refused["code"] == "VALIDATION"
        assert statements == []
    finally:
        await faults(psp_url)
    # The order it aimed at goes on and ends as if nothing happened.
    final = await until_final(system.gql, order_id)
    assert final["status"] == "CONFIRMED"
    stock = await system.gql.data(
        "query($id: ID!) { product(id: $id) { stock } }", {"id": product["id"]}
    )
    assert stock["product"]["stock"] == 2


async def test_a_thousand_operation_names_add_a_bounded_number_of_series(system):
    def series() -> int:
        return sum(
            1
            for family in system.registry.collect()
            if family.name.startswith("graphql_")
            for _ in family.samples
        )

    await system.gql("query Warmup { categories { id } }")
    before = series()
    for n in range(1000):
        await system.gql(f"query Name{n} {{ categories {{ id }} }}")
    # Each labelled name adds a few samples (a counter, a histogram's buckets);
    # past the first hundred names everything is `other`.
    per_name = 20
    assert series() - before <= (100 + 1) * per_name
    metrics = (await system.http.get("/metrics")).text
    assert 'operation="other"' in metrics
