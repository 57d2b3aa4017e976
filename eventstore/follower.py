"""Following the global log as it grows."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from eventstore.records import START, Position, RecordedEvent
from eventstore.schema import NOTIFY_CHANNEL
from eventstore.store import PostgresEventStore


async def follow(
    engine: AsyncEngine,
    store: PostgresEventStore,
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
    wake = asyncio.Event()

    def on_notify(*_: Any) -> None:
        wake.set()

    async with engine.connect() as listener:
        raw = await listener.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        await driver.add_listener(NOTIFY_CHANNEL, on_notify)
        try:
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
            with contextlib.suppress(Exception):
                await driver.remove_listener(NOTIFY_CHANNEL, on_notify)
