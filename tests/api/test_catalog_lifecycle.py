"""Queries, updates, deletes and paging, through the API with the real worker."""

from __future__ import annotations

from tests.api.catalog_client import (
    PRODUCT_FIELDS,
    create_category,
    create_product,
    error_of,
    unique,
)


async def test_category_queries_and_rename(system):
    category = await create_category(system.gql)
    renamed = unique("Renamed")
    data = await system.gql.data(
        "mutation($id: ID!, $n: String!) { updateCategory(id: $id, input: {name: $n})"
        " { id name } }",
        {"id": category["id"], "n": renamed},
    )
    assert data["updateCategory"] == {"id": category["id"], "name": renamed}

    found = await system.gql.data(
        "query($id: ID!) { category(id: $id) { name products { id } } categories { id } }",
        {"id": category["id"]},
    )
    assert found["category"] == {"name": renamed, "products": []}
    assert {"id": category["id"]} in found["categories"]
    assert (await system.gql.data('{ category(id: "nope") { id } }'))["category"] is None


async def test_a_renamed_category_frees_its_old_name(system):
    old_name = unique("Old")
    category = await create_category(system.gql, old_name)
    await system.gql.data(
        "mutation($id: ID!, $n: String!) { updateCategory(id: $id, input: {name: $n}) { id } }",
        {"id": category["id"], "n": unique("New")},
    )
    again = await create_category(system.gql, old_name)
    assert again["id"] != category["id"]


async def test_product_update_move_stock_and_delete(system):
    first, second = await create_category(system.gql), await create_category(system.gql)
    product = await create_product(system.gql, first["id"], name="Lamp", price=5000)
    assert product["stock"] == 0

    updated = await system.gql.data(
        "mutation($id: ID!, $c: ID!) { updateProduct(id: $id, input: "
        '{name: "Desk lamp", price: 5500, categoryId: $c}) { %s } }' % PRODUCT_FIELDS,
        {"id": product["id"], "c": second["id"]},
    )
    assert updated["updateProduct"] == {
        "id": product["id"],
        "name": "Desk lamp",
        "price": 5500,
        "stock": 0,
        "category": second,
    }

    stocked = await system.gql.data(
        "mutation($id: ID!) { addStock(input: {productId: $id, quantity: 7}) { stock } }",
        {"id": product["id"]},
    )
    assert stocked["addStock"] == {"stock": 7}

    # The old category is empty now and can go; the new one holds the product.
    gone = await system.gql.data(
        "mutation($id: ID!) { deleteCategory(id: $id) }", {"id": first["id"]}
    )
    assert gone["deleteCategory"] == first["id"]
    refused = await system.gql(
        "mutation($id: ID!) { deleteCategory(id: $id) }", {"id": second["id"]}
    )
    assert error_of(refused)["code"] == "CONFLICT"

    deleted = await system.gql.data(
        "mutation($id: ID!) { deleteProduct(id: $id) }", {"id": product["id"]}
    )
    assert deleted["deleteProduct"] == product["id"]
    assert (await system.gql.data('{ product(id: "%s") { id } }' % product["id"]))[
        "product"
    ] is None
    await system.gql.data("mutation($id: ID!) { deleteCategory(id: $id) }", {"id": second["id"]})
    assert (await system.gql.data('{ category(id: "%s") { id } }' % second["id"]))[
        "category"
    ] is None


async def test_products_page_by_category_in_creation_order(system):
    category = await create_category(system.gql)
    other = await create_category(system.gql)
    made = [await create_product(system.gql, category["id"], name=f"P{i}") for i in range(5)]
    await create_product(system.gql, other["id"], name="elsewhere")

    query = "query($c: ID, $a: ID) { products(categoryId: $c, first: 2, after: $a) { id name } }"
    seen, after = [], None
    while True:
        page = (await system.gql.data(query, {"c": category["id"], "a": after}))["products"]
        if not page:
            break
        assert len(page) <= 2
        seen.extend(page)
        after = page[-1]["id"]
    assert [p["id"] for p in seen] == [p["id"] for p in made]

    listed = await system.gql.data(
        "query($id: ID!) { category(id: $id) { products { name } } }", {"id": category["id"]}
    )
    assert [p["name"] for p in listed["category"]["products"]] == [f"P{i}" for i in range(5)]
