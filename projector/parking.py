"""Parking: an event a projection cannot apply is set aside, so the projection goes on.

A projection that stopped at its first bad event would leave its read model
frozen for every tenant until someone shipped a fix, and restarting it would
fail at the same event forever. Instead the projector applies the rest of the
batch without it, and keeps the event's position and error in
`read.parked_events`: visible in `shop projections status`, in the metric
`projector_parked_events` and in `shop audit`. After a fix,
`shop projections retry NAME` applies the parked events again, in log order.

The price: a read model that skipped an event may disagree with the log until
the event is retried, and later events of the same stream were applied without
it. When that matters for a projection, `shop projections rebuild NAME`
replays everything in order (and fails loudly on an event that still cannot
be applied).

Lost connections are never parked: they say nothing about the event.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
import structlog
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from eventstore import FollowedEventStore, Position, RecordedEvent
from projector.locks import hold_writes
from read_models.projection import Projection
from read_models.tables import parked_events
from tenancy import read_whole_log, set_tenant

log = structlog.get_logger(__name__)

MAX_ERROR_LENGTH = 500


def parkable(error: BaseException) -> bool:
    """Whether `error` is the event's fault, not a connection's."""
    if not isinstance(error, Exception):
        return False  # cancellation and the like
    return not (isinstance(error, DBAPIError) and error.connection_invalidated)


def describe(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}".splitlines()[0]
    return text[:MAX_ERROR_LENGTH]


async def apply_or_park(
    conn: AsyncConnection, projection: Projection, event: RecordedEvent
) -> bool:
    """Apply `event` in a savepoint of `conn`'s transaction; park it when it fails.

    True when it was applied.
    """
    try:
        async with conn.begin_nested():
            await projection.apply_as_tenant(conn, event)
    except Exception as error:
        if not parkable(error):
            raise
        await park(conn, projection.name, event, error)
        return False
    return True


async def park(
    conn: AsyncConnection, projection: str, event: RecordedEvent, error: BaseException
) -> None:
    """Record (or count another failure of) a parked event, as its tenant's row."""
    await set_tenant(conn, event.metadata.tenant_id)
    statement = insert(parked_events).values(
        projection=projection,
        transaction_id=event.position.transaction_id,
        sequence=event.position.sequence,
        stream_id=event.stream_id,
        version=event.version,
        event_type=event.event.event_type,
        error=describe(error),
    )
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=[
                parked_events.c.projection,
                parked_events.c.transaction_id,
                parked_events.c.sequence,
            ],
            set_={"error": statement.excluded.error, "attempts": parked_events.c.attempts + 1},
        )
    )
    log.warning(
        "event parked",
        projection=projection,
        position=str(event.position),
        stream_id=event.stream_id,
        event_type=event.event.event_type,
        error=describe(error),
    )


@dataclass(frozen=True)
class ParkedEvent:
    projection: str
    position: Position
    stream_id: str
    event_type: str
    error: str
    attempts: int
    tenant_id: str


async def parked(conn: AsyncConnection, projection: str | None = None) -> list[ParkedEvent]:
    """Every tenant's parked events (of `projection`, or of all), in log order."""
    await read_whole_log(conn)
    query = sa.select(parked_events).order_by(
        parked_events.c.transaction_id, parked_events.c.sequence
    )
    if projection is not None:
        query = query.where(parked_events.c.projection == projection)
    return [
        ParkedEvent(
            projection=row.projection,
            position=Position(row.transaction_id, row.sequence),
            stream_id=row.stream_id,
            event_type=row.event_type,
            error=row.error,
            attempts=row.attempts,
            tenant_id=row.tenant_id,
        )
        for row in await conn.execute(query)
    ]


async def forget(conn: AsyncConnection, projection: str) -> None:
    """Drop `projection`'s parked events: a rebuild has just applied the whole log."""
    for tenant in sorted({entry.tenant_id for entry in await parked(conn, projection)}):
        await set_tenant(conn, tenant)  # row-level security: each tenant's own rows
        await conn.execute(sa.delete(parked_events).where(parked_events.c.projection == projection))


async def retry(
    engine: AsyncEngine, store: FollowedEventStore, projection: Projection
) -> tuple[int, int]:
    """Apply `projection`'s parked events again, in log order: (applied, still parked)."""
    applied = still = 0
    async with engine.connect() as conn:
        waiting = await parked(conn, projection.name)
    for entry in waiting:
        async with engine.begin() as conn:
            await hold_writes(conn, projection.name)
            before = Position(entry.position.transaction_id, entry.position.sequence - 1)
            [event] = await store.read_all(conn, after=before, limit=1)
            if await apply_or_park(conn, projection, event):
                await set_tenant(conn, entry.tenant_id)
                await conn.execute(
                    sa.delete(parked_events)
                    .where(parked_events.c.projection == projection.name)
                    .where(parked_events.c.transaction_id == entry.position.transaction_id)
                    .where(parked_events.c.sequence == entry.position.sequence)
                )
                applied += 1
            else:
                still += 1
    return applied, still
