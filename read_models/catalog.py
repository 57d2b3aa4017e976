"""The categories and products query models (inline: mutations read their writes)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.catalog import (
    CategoryCreated,
    CategoryDeleted,
    CategoryRenamed,
    ProductCreated,
    ProductDeleted,
    ProductMoved,
    ProductPriceChanged,
    ProductRenamed,
)
from domain.inventory import StockAdded, StockReleased, StockReserved
from eventstore import RecordedEvent
from read_models.projection import Projection
from read_models.tables import categories, products


async def apply_to_categories(conn: AsyncConnection, recorded: RecordedEvent) -> None:
    at = recorded.recorded_at
    match recorded.event:
        case CategoryCreated(category_id=category_id, name=name):
            await conn.execute(
                sa.insert(categories).values(
                    id=category_id, name=name, created_at=at, updated_at=at
                )
            )
        case CategoryRenamed(category_id=category_id, name=name):
            await conn.execute(
                sa.update(categories)
                .where(categories.c.id == category_id)
                .values(name=name, updated_at=at)
            )
        case CategoryDeleted(category_id=category_id):
            await conn.execute(sa.delete(categories).where(categories.c.id == category_id))


async def apply_to_products(conn: AsyncConnection, recorded: RecordedEvent) -> None:
    at = recorded.recorded_at
    event = recorded.event
    match event:
        case ProductCreated():
            await conn.execute(
                sa.insert(products).values(
                    id=event.product_id,
                    name=event.name,
                    price=event.price,
                    category_id=event.category_id,
                    created_at=at,
                    updated_at=at,
                )
            )
        case ProductRenamed(product_id=product_id, name=name):
            await _update_product(conn, product_id, name=name, updated_at=at)
        case ProductPriceChanged(product_id=product_id, price=price):
            await _update_product(conn, product_id, price=price, updated_at=at)
        case ProductMoved(product_id=product_id, to_category_id=category_id):
            await _update_product(conn, product_id, category_id=category_id, updated_at=at)
        case (
            StockAdded(product_id=product_id, level=level)
            | StockReserved(product_id=product_id, level=level)
            | StockReleased(product_id=product_id, level=level)
        ):
            await _update_product(conn, product_id, stock=level)
        case ProductDeleted(product_id=product_id):
            await conn.execute(sa.delete(products).where(products.c.id == product_id))


async def _update_product(conn: AsyncConnection, product_id: str, **values: object) -> None:
    await conn.execute(sa.update(products).where(products.c.id == product_id).values(**values))


CATEGORIES = Projection(
    name="categories",
    tables=(categories,),
    event_types=frozenset(
        cls.event_type for cls in (CategoryCreated, CategoryRenamed, CategoryDeleted)
    ),
    apply_event=apply_to_categories,
    inline=True,
)

PRODUCTS = Projection(
    name="products",
    tables=(products,),
    event_types=frozenset(
        cls.event_type
        for cls in (
            ProductCreated,
            ProductRenamed,
            ProductPriceChanged,
            ProductMoved,
            ProductDeleted,
            StockAdded,
            StockReserved,
            StockReleased,
        )
    ),
    apply_event=apply_to_products,
    inline=True,
)
