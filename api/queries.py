"""The `Query` root: read models only."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.context import Context
from api.pagination import fetch_page
from api.types import Category, Product
from read_models import queries


@strawberry.type
class CatalogQuery:
    @strawberry.field
    async def category(self, info: Info[Context, None], id: strawberry.ID) -> Category | None:
        row = await info.context.loaders.category.load(str(id))
        return None if row is None else Category.from_row(row)

    @strawberry.field(description="Every category, by name.")
    async def categories(self, info: Info[Context, None]) -> list[Category]:
        async with info.context.engine.connect() as conn:
            rows = await queries.all_categories(conn)
        return [Category.from_row(row) for row in rows]

    @strawberry.field
    async def product(self, info: Info[Context, None], id: strawberry.ID) -> Product | None:
        async with info.context.engine.connect() as conn:
            row = (await queries.product_rows(conn, [str(id)])).get(str(id))
        return None if row is None else Product.from_row(row)

    @strawberry.field(
        description="Products in the order they were created. Page with `first` "
        "(1 to 1000) and `after`: the id of the last product of the previous page."
    )
    async def products(
        self,
        info: Info[Context, None],
        category_id: strawberry.ID | None = None,
        first: int = 100,
        after: strawberry.ID | None = None,
    ) -> list[Product]:
        async with info.context.engine.connect() as conn:
            rows = await fetch_page(
                "product",
                first,
                after,
                lambda: queries.product_page(
                    conn,
                    category_id=None if category_id is None else str(category_id),
                    first=first,
                    after=None if after is None else str(after),
                ),
            )
        if not any(
            getattr(field, "name", None) == "category"
            for field in info.selected_fields[0].selections
        ):
            return [Product.from_row(row) for row in rows]
        # One batch through the DataLoader, handed to each product up front.
        found = await info.context.loaders.category.load_many([row["category_id"] for row in rows])
        return [
            Product.from_row(
                row, category=None if category is None else Category.from_row(category)
            )
            for row, category in zip(rows, found, strict=True)
        ]
