"""`shop events show STREAM` and `shop events tail`."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import aclosing

from sqlalchemy.ext.asyncio import AsyncEngine

from eventstore import START, FollowedEventStore, RecordedEvent
from eventstore.follower import follow
from ops.terminal import render

HEADERS = (
    "version",
    "position",
    "type",
    "recorded at",
    "tenant",
    "correlation",
    "actor",
    "data",
)


def _row(event: RecordedEvent) -> tuple[object, ...]:
    return (
        event.version,
        event.position,
        f"{event.event.event_type} v{event.event.event_version}",
        event.recorded_at.isoformat(timespec="milliseconds"),
        event.metadata.tenant_id,
        event.metadata.correlation_id,
        event.metadata.actor,
        json.dumps(event.event.model_dump(mode="json"), ensure_ascii=False),
    )


async def show_stream(
    engine: AsyncEngine, store: FollowedEventStore, stream_id: str, *, tenant: str | None = None
) -> str:
    """Every event of a stream: of one tenant, or of each tenant that has a stream so named."""
    async with engine.connect() as conn:
        events = await store.read_stream(conn, stream_id)
    if tenant is not None:
        events = [e for e in events if e.metadata.tenant_id == tenant]
    scope = f"tenant {tenant}" if tenant is not None else "every tenant"
    if not events:
        return f"stream {stream_id!r} has no events ({scope})"
    return f"stream {stream_id} ({scope})\n" + render(HEADERS, [_row(e) for e in events])


async def tail(
    engine: AsyncEngine,
    store: FollowedEventStore,
    *,
    from_start: bool,
    limit: int | None,
    emit: Callable[[str], None],
    tenant: str | None = None,
) -> None:
    """Print the global log as it grows (from now, or from the first event), of one tenant
    or of all."""
    if from_start:
        after = START
    else:
        async with engine.connect() as conn:
            after = await store.last_position(conn)
    shown = 0
    async with aclosing(follow(engine, store, after=after)) as batches:
        async for batch in batches:
            for event in batch:
                if tenant is not None and event.metadata.tenant_id != tenant:
                    continue
                emit(f"{event.stream_id}  " + "  ".join(str(cell) for cell in _row(event)))
                shown += 1
                if limit is not None and shown >= limit:
                    return
