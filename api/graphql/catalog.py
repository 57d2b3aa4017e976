"""The catalog in the schema: categories, products and stock.

Queries read the read models. Each mutation validates, sends one command, and
reads its write: inline projections commit with the events, so the object read
after the command returns already shows its effect (read-your-writes).
"""

from __future__ import annotations

from collections.abc import Callable

import strawberry
from pydantic import ValidationError

from api.commands.sender import RequestId, command_id_for, new_entity_id
from api.errors import ApiError, invalid_input
from api.graphql.catalog_types import Category, Product
from api.graphql.context import Info
from api.graphql.pagination import fetch_page
from domain.catalog import (
    CreateCategory,
    CreateProduct,
    DeleteCategory,
    DeleteProduct,
    RenameCategory,
    UpdateProduct,
)
from domain.errors import ErrorCode
from domain.inventory import AddStock
from read_models import queries
from workflows.contracts import AnyCommand


@strawberry.input
class CreateCategoryInput:
    name: str


@strawberry.input
class UpdateCategoryInput:
    name: str


@strawberry.input
class CreateProductInput:
    name: str
    price: int = strawberry.field(description="Price in yen, 0 to 100,000,000.")
    category_id: strawberry.ID


@strawberry.input(description="Fields left out (or null) keep their value.")
class UpdateProductInput:
    name: str | None = None
    price: int | None = None
    category_id: strawberry.ID | None = None


@strawberry.input
class AddStockInput:
    product_id: strawberry.ID
    quantity: int = strawberry.field(description="Units to add, 1 to 1,000,000.")


async def _send(
    info: Info,
    mutation: str,
    request_id: str | None,
    build: Callable[[str], AnyCommand],
) -> str:
    """Validate and send one command; returns its command id."""
    context = info.context
    identity = context.admin()
    assert identity.subject is not None
    command_id = command_id_for(
        mutation=mutation, tenant_id=identity.tenant, actor=identity.subject, request_id=request_id
    )
    try:
        command = build(command_id)
    except ValidationError as error:
        raise invalid_input(error) from None
    await context.services.commands.send(command, context.command_context(command_id))
    return command_id


async def _category(info: Info, category_id: str) -> Category:
    async with info.context.services.engine.connect() as conn:
        row = (await queries.category_rows(conn, [category_id])).get(category_id)
    if row is None:
        raise ApiError(ErrorCode.NOT_FOUND, f"category {category_id} does not exist", field="id")
    return Category.from_row(row)


async def _product(info: Info, product_id: str) -> Product:
    async with info.context.services.engine.connect() as conn:
        row = (await queries.product_rows(conn, [product_id])).get(product_id)
    if row is None:
        raise ApiError(ErrorCode.NOT_FOUND, f"product {product_id} does not exist", field="id")
    return Product.from_row(row)


@strawberry.type
class CatalogQuery:
    @strawberry.field
    async def category(self, info: Info, id: strawberry.ID) -> Category | None:
        info.context.caller()  # public, but a token sent must be valid
        row = await info.context.loaders.category.load(str(id))
        return None if row is None else Category.from_row(row)

    @strawberry.field(
        description="Categories by name. Page with `first` (1 to 1000) and `after`: "
        "the id of the last category of the previous page."
    )
    async def categories(
        self, info: Info, first: int = 100, after: strawberry.ID | None = None
    ) -> list[Category]:
        info.context.caller()  # public, but a token sent must be valid
        async with info.context.services.engine.connect() as conn:
            rows = await fetch_page(
                "category",
                first,
                after,
                lambda: queries.category_page(
                    conn, first=first, after=None if after is None else str(after)
                ),
            )
        return [Category.from_row(row) for row in rows]

    @strawberry.field
    async def product(self, info: Info, id: strawberry.ID) -> Product | None:
        info.context.caller()  # public, but a token sent must be valid
        async with info.context.services.engine.connect() as conn:
            row = (await queries.product_rows(conn, [str(id)])).get(str(id))
        return None if row is None else Product.from_row(row)

    @strawberry.field(
        description="Products in the order they were created. Page with `first` "
        "(1 to 1000) and `after`: the id of the last product of the previous page."
    )
    async def products(
        self,
        info: Info,
        category_id: strawberry.ID | None = None,
        first: int = 100,
        after: strawberry.ID | None = None,
    ) -> list[Product]:
        info.context.caller()  # public, but a token sent must be valid
        wants_category = any(
            getattr(field, "name", None) == "category"
            for field in info.selected_fields[0].selections
        )
        async with info.context.services.engine.connect() as conn:
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
            # The categories in one more statement on the same connection (and
            # transaction), handed to each product up front and to the loader.
            found = (
                await queries.category_rows(conn, sorted({row["category_id"] for row in rows}))
                if wants_category and rows
                else {}
            )
        info.context.loaders.category.prime_many(found)
        categories = {key: Category.from_row(row) for key, row in found.items()}
        return [Product.from_row(row, category=categories.get(row["category_id"])) for row in rows]


@strawberry.type
class CatalogMutation:
    @strawberry.mutation
    async def create_category(
        self,
        info: Info,
        input: CreateCategoryInput,
        request_id: RequestId = None,
    ) -> Category:
        command_id = await _send(
            info,
            "createCategory",
            request_id,
            lambda cid: CreateCategory(category_id=new_entity_id(cid), name=input.name),
        )
        return await _category(info, new_entity_id(command_id))

    @strawberry.mutation(description="Rename a category.")
    async def update_category(
        self,
        info: Info,
        id: strawberry.ID,
        input: UpdateCategoryInput,
        request_id: RequestId = None,
    ) -> Category:
        await _send(
            info,
            "updateCategory",
            request_id,
            lambda _: RenameCategory(category_id=str(id), name=input.name),
        )
        return await _category(info, str(id))

    @strawberry.mutation(description="Delete a category that holds no products; returns its id.")
    async def delete_category(
        self, info: Info, id: strawberry.ID, request_id: RequestId = None
    ) -> strawberry.ID:
        await _send(
            info, "deleteCategory", request_id, lambda _: DeleteCategory(category_id=str(id))
        )
        return id

    @strawberry.mutation
    async def create_product(
        self,
        info: Info,
        input: CreateProductInput,
        request_id: RequestId = None,
    ) -> Product:
        command_id = await _send(
            info,
            "createProduct",
            request_id,
            lambda cid: CreateProduct(
                product_id=new_entity_id(cid),
                name=input.name,
                price=input.price,
                category_id=str(input.category_id),
            ),
        )
        return await _product(info, new_entity_id(command_id))

    @strawberry.mutation(description="Rename, reprice or move a product.")
    async def update_product(
        self,
        info: Info,
        id: strawberry.ID,
        input: UpdateProductInput,
        request_id: RequestId = None,
    ) -> Product:
        await _send(
            info,
            "updateProduct",
            request_id,
            lambda _: UpdateProduct(
                product_id=str(id),
                name=input.name,
                price=input.price,
                category_id=None if input.category_id is None else str(input.category_id),
            ),
        )
        return await _product(info, str(id))

    @strawberry.mutation(description="Delete a product; returns its id.")
    async def delete_product(
        self, info: Info, id: strawberry.ID, request_id: RequestId = None
    ) -> strawberry.ID:
        await _send(info, "deleteProduct", request_id, lambda _: DeleteProduct(product_id=str(id)))
        return id

    @strawberry.mutation(description="Add units to a product's stock.")
    async def add_stock(
        self,
        info: Info,
        input: AddStockInput,
        request_id: RequestId = None,
    ) -> Product:
        product_id = str(input.product_id)
        await _send(
            info,
            "addStock",
            request_id,
            lambda _: AddStock(product_id=product_id, quantity=input.quantity),
        )
        return await _product(info, product_id)
