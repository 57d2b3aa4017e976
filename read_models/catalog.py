"""The categories and products query models (inline: mutations read their writes)."""

from __future__ import annotations

from collections.abc import Sequence

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


def _product_change(recorded: RecordedEvent) -> tuple[str, str, dict[str, object]] | None:
    """What an event does to its product's row: ("create" | "update" | "delete", id, columns)."""
    at = recorded.recorded_at
    match recorded.event:
        case ProductCreated() as created:
            columns = {
                "id": created.product_id,
                "name": created.name,
                "price": created.price,
                "category_id": created.category_id,
                "stock": 0,
                "created_at": at,
                "updated_at": at,
            }
            return "create", created.product_id, columns
        case ProductRenamed(product_id=product_id, name=name):
            return "update", product_id, {"name": name, "updated_at": at}
        case ProductPriceChanged(product_id=product_id, price=price):
            return "update", product_id, {"price": price, "updated_at": at}
        case ProductMoved(product_id=product_id, to_category_id=category_id):
            return "update", product_id, {"category_id": category_id, "updated_at": at}
        case (
            StockAdded(product_id=product_id, level=level)
            | StockReserved(product_id=product_id, level=level)
            | StockReleased(product_id=product_id, level=level)
        ):
            return "update", product_id, {"stock": level}
        case ProductDeleted(product_id=product_id):
            return "delete", product_id, {}
    return None


async def apply_to_products(conn: AsyncConnection, recorded: RecordedEvent) -> None:
    change = _product_change(recorded)
    if change is None:
        return
    kind, product_id, columns = change
    if kind == "create":
        await conn.execute(sa.insert(products).values(**columns))
    elif kind == "update":
        await _update_product(conn, product_id, **columns)
    else:
        await conn.execute(sa.delete(products).where(products.c.id == product_id))


async def _update_product(conn: AsyncConnection, product_id: str, **values: object) -> None:
    await conn.execute(sa.update(products).where(products.c.id == product_id).values(**values))


async def apply_page_to_products(conn: AsyncConnection, page: Sequence[RecordedEvent]) -> None:
    """A page of one tenant's events (a rebuild's) in a few statements, not one per event.

    The page is folded first: each product ends up created (one multi-row
    INSERT), updated (one UPDATE per set of changed columns, sent as one
    pipelined executemany) or deleted (one DELETE), with the columns its last
    events left, which is what applying the events one by one leaves.
    """
    created: dict[str, dict[str, object]] = {}
    updated: dict[str, dict[str, object]] = {}
    deleted: set[str] = set()
    for recorded in page:
        change = _product_change(recorded)
        if change is None:
            continue
        kind, product_id, columns = change
        if kind == "create":
            created[product_id] = columns
        elif kind == "update":
            (created.get(product_id) or updated.setdefault(product_id, {})).update(columns)
        else:
            created.pop(product_id, None)
            updated.pop(product_id, None)
            deleted.add(product_id)
    if deleted:
        await conn.execute(sa.delete(products).where(products.c.id.in_(sorted(deleted))))
    if created:
        await conn.execute(sa.insert(products), list(created.values()))
    # SQLAlchemy's executemany UPDATE: the SET clause comes from each row's keys.
    by_columns: dict[frozenset[str], list[dict[str, object]]] = {}
    for product_id, columns in updated.items():
        by_columns.setdefault(frozenset(columns), []).append({"row_id": product_id, **columns})
    for rows in by_columns.values():
        await conn.execute(_UPDATE_BY_ID, rows)


_UPDATE_BY_ID = sa.update(products).where(products.c.id == sa.bindparam("row_id"))


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
    apply_page=apply_page_to_products,
)
