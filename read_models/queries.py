"""Reading the query models: plain SQL over the read tables.

One statement each, but for a page after a cursor, which first finds its anchor.
The API reads through these; so do activities that need a read model (the
fraud check counts a customer's confirmed orders), never through the tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.saga import OrderStatus
from read_models.tables import (
    categories,
    order_items,
    order_timeline,
    order_updates,
    orders,
    price_history,
    products,
)


class UnknownCursor(LookupError):
    """`after` names a row (a product, an order) that is not, or no longer, in the list."""


@dataclass(frozen=True)
class LogPosition:
    """Where a row's event sits in the log: the order of price histories and timelines."""

    transaction_id: int
    sequence: int


async def category_rows(conn: AsyncConnection, ids: Sequence[str]) -> dict[str, sa.RowMapping]:
    return await _by_id(conn, categories, ids)


async def category_page(
    conn: AsyncConnection, *, first: int, after: str | None
) -> list[sa.RowMapping]:
    """Categories by name, `first` at a time after category `after`."""
    return await _page(conn, categories, categories.c.name, None, first=first, after=after)


async def product_rows(conn: AsyncConnection, ids: Sequence[str]) -> dict[str, sa.RowMapping]:
    return await _by_id(conn, products, ids)


async def product_page(
    conn: AsyncConnection, *, category_id: str | None, first: int, after: str | None
) -> list[sa.RowMapping]:
    """Products in the order they were created, `first` at a time after product `after`."""
    match = None if category_id is None else products.c.category_id == category_id
    return await _page(conn, products, products.c.created_at, match, first=first, after=after)


async def products_in_categories(
    conn: AsyncConnection, category_ids: Sequence[str], *, first: int, after: str | None
) -> dict[str, list[sa.RowMapping] | UnknownCursor]:
    """The first `first` products of each category, oldest first, after product `after`.

    The anchor must be a product of the same category; for the others it is unknown.
    """
    keyset = None
    anchored = list(category_ids)
    if after is not None:
        anchor_query = sa.select(products.c.created_at, products.c.id, products.c.category_id)
        anchor = (await conn.execute(anchor_query.where(products.c.id == after))).one_or_none()
        anchored = [] if anchor is None else [c for c in category_ids if c == anchor.category_id]
        if anchor is not None:
            keyset = sa.tuple_(products.c.created_at, products.c.id) > sa.tuple_(
                anchor.created_at, anchor.id
            )
    found = await _first_of_each(
        conn,
        products,
        products.c.category_id,
        anchored,
        (products.c.created_at, products.c.id),
        first=first,
        where=keyset,
    )
    return {key: found.get(key, UnknownCursor(after)) for key in category_ids}


async def price_histories(
    conn: AsyncConnection, product_ids: Sequence[str], *, first: int, after: LogPosition | None
) -> dict[str, list[sa.RowMapping]]:
    """The first `first` prices of each product, oldest first, after log position `after`."""
    return await _in_log_order(
        conn, price_history, price_history.c.product_id, product_ids, first=first, after=after
    )


async def _in_log_order(
    conn: AsyncConnection,
    table: sa.Table,
    key: sa.Column[str],
    keys: Sequence[str],
    *,
    first: int,
    after: LogPosition | None,
) -> dict[str, list[sa.RowMapping]]:
    """Pages of a table whose rows are events, ordered by their position in the log."""
    order = (table.c.transaction_id, table.c.sequence)
    keyset = None
    if after is not None:
        keyset = sa.tuple_(*order) > sa.tuple_(
            sa.cast(sa.literal(str(after.transaction_id)), order[0].type), after.sequence
        )
    return await _first_of_each(conn, table, key, keys, order, first=first, where=keyset)


async def _first_of_each(
    conn: AsyncConnection,
    table: sa.Table,
    key: sa.Column[str],
    keys: Sequence[str],
    order: tuple[sa.Column[Any], ...],
    *,
    first: int,
    where: sa.ColumnElement[bool] | None,
) -> dict[str, list[sa.RowMapping]]:
    """The first `first` rows of each key in `order`, in one statement for every key.

    A LATERAL subquery per key with its own LIMIT: each key's rows are read from
    its index and no further, however many rows the key has (a window function
    would number all of them to keep `first`).
    """
    if not keys:
        return {}
    wanted = sa.values(sa.column("key", sa.Text), name="wanted").data([(k,) for k in keys])
    page = sa.select(table).where(key == wanted.c.key).order_by(*order).limit(first)
    if where is not None:
        page = page.where(where)
    rows = page.lateral("page")
    query = (
        sa.select(rows)
        .select_from(wanted.join(rows, sa.true()))
        .order_by(rows.c[key.name], *(rows.c[column.name] for column in order))
    )
    grouped: dict[str, list[sa.RowMapping]] = {k: [] for k in keys}
    for row in (await conn.execute(query)).mappings():
        grouped[row[key.name]].append(row)
    return grouped


async def _by_id(
    conn: AsyncConnection, table: sa.Table, ids: Sequence[str]
) -> dict[str, sa.RowMapping]:
    """The rows with these ids, by id; ids without a row are left out."""
    result = await conn.execute(sa.select(table).where(table.c.id.in_(ids)))
    return {row["id"]: row for row in result.mappings()}


async def _grouped(
    conn: AsyncConnection, query: sa.Select[Any], key: str, keys: Sequence[str]
) -> dict[str, list[sa.RowMapping]]:
    """Rows by the value of `key`, in query order, with an empty list for keys without rows."""
    grouped: dict[str, list[sa.RowMapping]] = {k: [] for k in keys}
    for row in (await conn.execute(query)).mappings():
        grouped[row[key]].append(row)
    return grouped


async def order_rows(conn: AsyncConnection, ids: Sequence[str]) -> dict[str, sa.RowMapping]:
    return await _by_id(conn, orders, ids)


async def order_page(
    conn: AsyncConnection, *, user_id: str | None, first: int, after: str | None
) -> list[sa.RowMapping]:
    """Orders oldest first, `first` at a time after order `after`."""
    match = None if user_id is None else orders.c.user_id == user_id
    return await _page(conn, orders, orders.c.started_at, match, first=first, after=after)


async def confirmed_order_count(conn: AsyncConnection, user_id: str) -> int:
    """How many of `user_id`'s orders were confirmed, as far as the inline model knows."""
    query = (
        sa.select(sa.func.count())
        .select_from(orders)
        .where(orders.c.user_id == user_id, orders.c.status == OrderStatus.CONFIRMED)
    )
    return await conn.scalar(query) or 0


async def _page(
    conn: AsyncConnection,
    table: sa.Table,
    created: sa.Column[Any],
    match: sa.ColumnElement[bool] | None,
    *,
    first: int,
    after: str | None,
) -> list[sa.RowMapping]:
    """Keyset paging by (creation time, id): stable while rows are added or removed."""
    key = sa.tuple_(created, table.c.id)
    query = sa.select(table).order_by(created, table.c.id).limit(first)
    if match is not None:
        query = query.where(match)
    if after is not None:
        # The anchor must be in the same list: a row outside it (another user's
        # order) is as unknown as a missing one, so ids cannot be probed.
        anchor_query = sa.select(created, table.c.id).where(table.c.id == after)
        if match is not None:
            anchor_query = anchor_query.where(match)
        anchor = (await conn.execute(anchor_query)).one_or_none()
        if anchor is None:
            raise UnknownCursor(after)
        query = query.where(key > sa.tuple_(*anchor))
    return list((await conn.execute(query)).mappings())


async def items_of_orders(
    conn: AsyncConnection, order_ids: Sequence[str]
) -> dict[str, list[sa.RowMapping]]:
    query = (
        sa.select(order_items)
        .where(order_items.c.order_id.in_(order_ids))
        .order_by(order_items.c.order_id, order_items.c.line)
    )
    return await _grouped(conn, query, "order_id", order_ids)


async def timelines(
    conn: AsyncConnection, order_ids: Sequence[str], *, first: int, after: LogPosition | None
) -> dict[str, list[sa.RowMapping]]:
    """The first `first` events of each order's timeline, in log order, after `after`."""
    return await _in_log_order(
        conn, order_timeline, order_timeline.c.order_id, order_ids, first=first, after=after
    )


async def order_updates_after(
    conn: AsyncConnection, order_id: str, version: int
) -> list[sa.RowMapping]:
    query = (
        sa.select(order_updates)
        .where(order_updates.c.order_id == order_id)
        .where(order_updates.c.version > version)
        .order_by(order_updates.c.version)
    )
    return list((await conn.execute(query)).mappings())
