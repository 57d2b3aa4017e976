"""The seed's catalog examples, exactly as written (ids aside)."""

from __future__ import annotations

import uuid

CREATE_CATEGORY = 'mutation { createCategory(input: { name: "Electronics" }) { id name } }'
CREATE_PRODUCT = (
    'mutation { createProduct(input: { name: "MacBook Pro", price: 299000, categoryId: "<id>" })'
    " { id name price category { name } } }"
)
LIST_PRODUCTS = "query { products { id name price category { id name } } }"


async def test_seed_catalog_examples(empty_system):
    system = empty_system
    name = "Electronics"
    created = await system.gql.data(CREATE_CATEGORY)
    category = created["createCategory"]
    assert category["name"] == name
    uuid.UUID(category["id"])

    product = (await system.gql.data(CREATE_PRODUCT.replace("<id>", category["id"])))[
        "createProduct"
    ]
    assert product["name"] == "MacBook Pro"
    assert product["price"] == 299000
    assert product["category"] == {"name": name}

    listed = (await system.gql.data(LIST_PRODUCTS))["products"]
    assert listed == [
        {"id": product["id"], "name": "MacBook Pro", "price": 299000, "category": category}
    ]
