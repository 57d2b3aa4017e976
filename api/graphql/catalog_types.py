"""GraphQL object types, each built from a read-model row by `from_row`."""

from __future__ import annotations

from datetime import datetime
from typing import cast

import strawberry
from sqlalchemy import RowMapping

from api.errors import ApiError
from api.graphql.context import Context, Info
from api.graphql.pagination import fetch_page, log_cursor, log_page
from domain.errors import ErrorCode


@strawberry.type(description="A product category.")
class Category:
    id: strawberry.ID
    name: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: RowMapping) -> Category:
        return cls(
            id=strawberry.ID(row["id"]),
            name=row["name"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    @strawberry.field(
        description="Products filed under this category, oldest first. Page with `first` "
        "(1 to 1000) and `after`: the id of the last product of the previous page."
    )
    async def products(
        self, info: Info, first: int = 100, after: strawberry.ID | None = None
    ) -> list[Product]:
        key = (str(self.id), first, None if after is None else str(after))
        rows = await fetch_page(
            "product of this category",
            first,
            after,
            lambda: info.context.loaders.products_by_category.load(key),
        )
        return [Product.from_row(row) for row in rows]


@strawberry.type(description="A price a product had, from when it was set.")
class PricePoint:
    price: int
    changed_at: datetime
    cursor: str = strawberry.field(description="Pass as `after` for the prices after this one.")


@strawberry.type(description="A product for sale.")
class Product:
    id: strawberry.ID
    name: str
    price: int = strawberry.field(description="Price in yen.")
    stock: int = strawberry.field(description="Units on hand.")
    created_at: datetime
    updated_at: datetime
    category_id: strawberry.Private[str]
    prefetched_category: strawberry.Private[Category | None] = None

    @classmethod
    def from_row(cls, row: RowMapping, *, category: Category | None = None) -> Product:
        return cls(
            id=strawberry.ID(row["id"]),
            name=row["name"],
            price=row["price"],
            stock=row["stock"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            category_id=row["category_id"],
            prefetched_category=category,
        )

    @strawberry.field
    def category(self, info: Info) -> Category:
        # A list resolver that prefetched the categories saves a coroutine per
        # product; otherwise the DataLoader batches the lookups.
        if self.prefetched_category is not None:
            return self.prefetched_category
        return cast(Category, self._load_category(info.context))

    async def _load_category(self, context: Context) -> Category:
        row = await context.loaders.category.load(self.category_id)
        if row is None:
            raise ApiError(ErrorCode.INTERNAL, f"category {self.category_id} is missing")
        return Category.from_row(row)

    @strawberry.field(
        description="The prices this product has had, oldest first, `first` (1 to 1000) "
        "at a time after the `cursor` given as `after`. Updated asynchronously by the "
        "projector, so it may trail a mutation briefly."
    )
    async def price_history(
        self, info: Info, first: int = 100, after: str | None = None
    ) -> list[PricePoint]:
        rows = await info.context.loaders.price_history.load(log_page(self.id, first, after))
        return [
            PricePoint(
                price=row["price"],
                changed_at=row["changed_at"],
                cursor=log_cursor(row["transaction_id"], row["sequence"]),
            )
            for row in rows
        ]
