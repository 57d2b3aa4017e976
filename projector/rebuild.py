"""Rebuilding a projection from position 0 while the live tables keep serving.

The projection replays into shadow tables (same names, schema `read_rebuild`)
through SQLAlchemy's schema translation, so the one projection function writes
either. When the shadow has caught up, a short transaction keeps the live
tables' writers out, applies the last events, and swaps the tables.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from eventstore import START, FollowedEventStore, Position, RecordedEvent
from projector.locks import hold_writes
from projector.parking import forget as forget_parked
from read_models.projection import Projection, save_checkpoint
from read_models.tables import SCHEMA
from tenancy import tenant_policy_sql

log = structlog.get_logger(__name__)

SHADOW_SCHEMA = "read_rebuild"
RETIRED_SCHEMA = "read_retired"

Progress = Callable[[int, Position], None]


@asynccontextmanager
async def _shadow(conn: AsyncConnection) -> AsyncIterator[AsyncConnection]:
    """The same transaction with the projection's tables read as the shadow ones.

    Execution options change the connection in place, so they are undone on exit.
    """
    await conn.execution_options(schema_translate_map={SCHEMA: SHADOW_SCHEMA})
    try:
        yield conn
    finally:
        await conn.execution_options(schema_translate_map=None)


def _recreate_tables(sync: sa.Connection, tables: tuple[sa.Table, ...]) -> None:
    for table in tables:
        table.drop(sync, checkfirst=True)
        table.create(sync)


async def _replay(
    conn: AsyncConnection,
    store: FollowedEventStore,
    projection: Projection,
    after: Position,
    *,
    limit: int,
    settled_only: bool,
) -> tuple[Position, int]:
    batch = await store.read_all(conn, after=after, limit=limit, settled_only=settled_only)
    async with _shadow(conn) as shadow:
        await projection.apply_page_as_tenants(shadow, batch)
    return (batch[-1].position if batch else after), len(batch)


async def _read_settled(
    engine: AsyncEngine, store: FollowedEventStore, after: Position, limit: int
) -> list[RecordedEvent]:
    async with engine.begin() as conn:
        return await store.read_all(conn, after=after, limit=limit, settled_only=True)


async def rebuild(
    engine: AsyncEngine,
    store: FollowedEventStore,
    projection: Projection,
    *,
    batch_size: int = 1000,
    on_progress: Progress | None = None,
) -> Position:
    """Rebuild `projection` from the whole log and swap it in; returns where it ended."""
    name = projection.name
    async with engine.begin() as conn:
        await conn.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {SHADOW_SCHEMA}"))
        await conn.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {RETIRED_SCHEMA}"))
        async with _shadow(conn) as shadow:
            await shadow.run_sync(_recreate_tables, projection.tables)

    position, applied = START, 0
    page = await _read_settled(engine, store, position, batch_size)
    while page:
        # The next page is read (and decoded) while this one is written.
        reading = asyncio.ensure_future(_read_settled(engine, store, page[-1].position, batch_size))
        try:
            async with engine.begin() as conn, _shadow(conn) as shadow:
                await projection.apply_page_as_tenants(shadow, page)
            applied += len(page)
            position = page[-1].position
            if on_progress is not None:
                on_progress(applied, position)
        except BaseException:
            # Its connection goes back to the pool before the error leaves.
            reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)
            raise
        page = await reading

    async with engine.begin() as conn:
        if projection.inline:
            # Writers of inline projections wait here; their events, still
            # uncommitted and unseen by us, land in the new tables after the swap.
            for table in projection.tables:
                await conn.execute(sa.text(f"LOCK TABLE {SCHEMA}.{table.name} IN EXCLUSIVE MODE"))
        else:
            await hold_writes(conn, name)
        while True:
            position, count = await _replay(
                conn,
                store,
                projection,
                position,
                limit=batch_size,
                settled_only=not projection.inline,
            )
            applied += count
            if count == 0:
                break
        for table in projection.tables:
            await conn.execute(
                sa.text(f"ALTER TABLE {SCHEMA}.{table.name} SET SCHEMA {RETIRED_SCHEMA}")
            )
            await conn.execute(
                sa.text(f"ALTER TABLE {SHADOW_SCHEMA}.{table.name} SET SCHEMA {SCHEMA}")
            )
            await conn.execute(sa.text(f"DROP TABLE {RETIRED_SCHEMA}.{table.name}"))
            # The new table is under its tenants' row-level security, as the old one was.
            for statement in tenant_policy_sql(f"{SCHEMA}.{table.name}"):
                await conn.execute(sa.text(statement))
        if not projection.inline:
            await save_checkpoint(conn, name, position)
            await forget_parked(conn, name)
    if on_progress is not None:
        on_progress(applied, position)
    log.info("projection rebuilt", projection=name, events=applied, position=str(position))
    return position
