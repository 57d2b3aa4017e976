"""Every bad input gets a typed error with its field, and writes no event."""

from __future__ import annotations

import pytest

from tests.api.catalog_client import create_category, create_product, error_of, event_count

CREATE_PRODUCT = "mutation($input: CreateProductInput!) { createProduct(input: $input) { id } }"


@pytest.fixture
async def shelf(system):
    category = await create_category(system.gql)
    product = await create_product(system.gql, category["id"])
    return category, product


async def expect_refusal(system, engine, query, variables, *, code, field):
    before = await event_count(engine)
    body = await system.gql(query, variables)
    error = error_of(body)
    assert (error["code"], error["field"]) == (code, field), body
    assert error["message"]
    assert "Traceback" not in str(body)
    assert await event_count(engine) == before


@pytest.mark.parametrize(
    ("name", "field"),
    [("", "name"), ("   ", "name"), ("x" * 201, "name")],
    ids=["empty", "blank", "too-long"],
)
async def test_category_names_are_validated(system, engine, name, field):
    await expect_refusal(
        system,
        engine,
        "mutation($n: String!) { createCategory(input: {name: $n}) { id } }",
        {"n": name},
        code="VALIDATION",
        field=field,
    )


async def test_duplicate_category_names_conflict(system, engine):
    category = await create_category(system.gql)
    await expect_refusal(
        system,
        engine,
        "mutation($n: String!) { createCategory(input: {name: $n}) { id } }",
        {"n": f"  {category['name'].upper()} "},
        code="CONFLICT",
        field="name",
    )


@pytest.mark.parametrize(
    ("price", "field"),
    [
        (-1, "price"),
        (100_000_001, "price"),
        (3_000_000_000, "price"),
        ("120", "price"),
        (1.5, "price"),
    ],
    ids=["negative", "above-limit", "not-32-bit", "string", "fraction"],
)
async def test_prices_are_validated(system, engine, shelf, price, field):
    category, _ = shelf
    await expect_refusal(
        system,
        engine,
        CREATE_PRODUCT,
        {"input": {"name": "P", "price": price, "categoryId": category["id"]}},
        code="VALIDATION",
        field=field,
    )


async def test_literal_values_of_the_wrong_type_name_their_field(system, engine, shelf):
    category, _ = shelf
    await expect_refusal(
        system,
        engine,
        'mutation { createProduct(input: {name: "P", price: "cheap", categoryId: "%s"}) { id } }'
        % category["id"],
        None,
        code="VALIDATION",
        field="price",
    )


async def test_a_missing_required_field_is_named(system, engine):
    await expect_refusal(
        system,
        engine,
        'mutation { createProduct(input: {name: "P", categoryId: "c"}) { id } }',
        None,
        code="VALIDATION",
        field="price",
    )


async def test_products_need_an_existing_category(system, engine):
    await expect_refusal(
        system,
        engine,
        CREATE_PRODUCT,
        {"input": {"name": "P", "price": 1, "categoryId": "no-such-category"}},
        code="NOT_FOUND",
        field="categoryId",
    )


async def test_a_category_holding_products_cannot_be_deleted(system, engine, shelf):
    category, _ = shelf
    await expect_refusal(
        system,
        engine,
        "mutation($id: ID!) { deleteCategory(id: $id) }",
        {"id": category["id"]},
        code="CONFLICT",
        field="id",
    )


@pytest.mark.parametrize("quantity", [0, -3, 1_000_001])
async def test_stock_quantities_are_validated(system, engine, shelf, quantity):
    _, product = shelf
    await expect_refusal(
        system,
        engine,
        "mutation($p: ID!, $q: Int!) { addStock(input: {productId: $p, quantity: $q}) { id } }",
        {"p": product["id"], "q": quantity},
        code="VALIDATION",
        field="quantity",
    )


async def test_stock_for_an_unknown_product(system, engine):
    await expect_refusal(
        system,
        engine,
        'mutation { addStock(input: {productId: "nope", quantity: 1}) { id } }',
        None,
        code="NOT_FOUND",
        field="productId",
    )


async def test_updates_of_unknown_products_and_categories(system, engine):
    await expect_refusal(
        system,
        engine,
        'mutation { updateProduct(id: "nope", input: {price: 5}) { id } }',
        None,
        code="NOT_FOUND",
        field="id",
    )
    await expect_refusal(
        system,
        engine,
        'mutation { updateCategory(id: "nope", input: {name: "X"}) { id } }',
        None,
        code="NOT_FOUND",
        field="id",
    )


async def test_an_update_with_nothing_to_change(system, engine, shelf):
    _, product = shelf
    await expect_refusal(
        system,
        engine,
        "mutation($id: ID!) { updateProduct(id: $id, input: {}) { id } }",
        {"id": product["id"]},
        code="VALIDATION",
        field="input",
    )


async def test_moving_a_product_to_an_unknown_category(system, engine, shelf):
    _, product = shelf
    await expect_refusal(
        system,
        engine,
        'mutation($id: ID!) { updateProduct(id: $id, input: {categoryId: "nope"}) { id } }',
        {"id": product["id"]},
        code="NOT_FOUND",
        field="categoryId",
    )


async def test_syntax_errors_and_unknown_fields(system, engine):
    await expect_refusal(system, engine, "{ products { id ", None, code="VALIDATION", field=None)
    await expect_refusal(
        system, engine, "{ products { id colour } }", None, code="VALIDATION", field=None
    )


@pytest.mark.parametrize("first", [0, 1001])
async def test_page_sizes_are_bounded(system, engine, first):
    await expect_refusal(
        system,
        engine,
        "query($f: Int!) { products(first: $f) { id } }",
        {"f": first},
        code="VALIDATION",
        field="first",
    )


async def test_paging_after_an_unknown_product(system, engine):
    await expect_refusal(
        system,
        engine,
        'query { products(after: "nope") { id } }',
        None,
        code="VALIDATION",
        field="after",
    )
