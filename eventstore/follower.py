"""Following the global log as it grows."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from eventstore.listener import LogListener
from eventstore.port import EventStore
from eventstore.records import START, Position, RecordedEvent


async def follow(
    engine: AsyncEngine,
    store: EventStore[AsyncConnection],
    *,
    after: Position = START,
    batch_size: int = 500,
    max_wait_seconds: float = 1.0,
) -> AsyncGenerator[list[RecordedEvent], None]:
    """Yield the global log in batches from `after` on, forever.

    Wakes on the store's NOTIFY and otherwise re-reads every `max_wait_seconds`:
    a notification can be lost, and a long transaction anywhere in the cluster
    can hold settled events back past the moment they were announced.
    """
    listener = LogListener(engine)
    await listener.start()
    try:
        async with listener.subscription() as wake:
            while True:
                wake.clear()
                async with engine.connect() as conn:
                    batch = await store.read_all(conn, after=after, limit=batch_size)
                if batch:
                    after = batch[-1].position
                    yield batch
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), max_wait_seconds)
    finally:
        await listener.stop()
