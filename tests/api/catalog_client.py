"""Catalog operations for tests, spelled as a frontend would send them."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

PRODUCT_FIELDS = "id name price stock category { id name }"


def unique(name: str) -> str:
    """Category names are unique across the session's database."""
    return f"{name} {uuid.uuid4().hex[:8]}"


async def create_category(gql, name: str | None = None) -> dict[str, Any]:
    data = await gql.data(
        "mutation($name: String!) { createCategory(input: {name: $name}) { id name } }",
        {"name": name or unique("Category")},
    )
    category: dict[str, Any] = data["createCategory"]
    return category


async def create_product(
    gql, category_id: str, *, name: str = "Thing", price: int = 100
) -> dict[str, Any]:
    data = await gql.data(
        "mutation($input: CreateProductInput!) { createProduct(input: $input) { %s } }"
        % PRODUCT_FIELDS,
        {"input": {"name": name, "price": price, "categoryId": category_id}},
    )
    product: dict[str, Any] = data["createProduct"]
    return product


async def event_count(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        count = await conn.scalar(sa.text("SELECT count(*) FROM eventstore.events"))
    return int(count or 0)


def error_of(body: dict[str, Any]) -> dict[str, Any]:
    """The single error of a response, with its message, code and field."""
    assert body.get("data") is None or all(v is None for v in body["data"].values()), body
    (error,) = body["errors"]
    return {
        "code": error["extensions"]["code"],
        "field": error["extensions"].get("field"),
        "message": error["message"],
    }
