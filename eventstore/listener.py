"""Waking readers when the log grows: one LISTEN connection shared by a process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

NOTIFY_CHANNEL = "eventstore_appended"
"""Where the store announces appends (after they commit), with the last position."""


class LogListener:
    """Sets every registered `asyncio.Event` when a command appends events.

    Readers re-check on their own after a bounded wait too: a notification can
    be lost when the connection drops, and nothing is promised by one.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._waiters: set[asyncio.Event] = set()
        self._conn: AsyncConnection | None = None
        self._driver: Any = None

    async def start(self) -> None:
        self._conn = await self._engine.connect()
        raw = await self._conn.get_raw_connection()
        self._driver = raw.driver_connection
        await self._driver.add_listener(NOTIFY_CHANNEL, self._wake)

    async def stop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._driver.remove_listener(NOTIFY_CHANNEL, self._wake)
            await self._conn.invalidate()
            await self._conn.close()
            self._conn = None

    def _wake(self, *_: Any) -> None:
        for waiter in self._waiters:
            waiter.set()

    @contextlib.asynccontextmanager
    async def subscription(self) -> AsyncIterator[asyncio.Event]:
        """An event that is set on every append; clear it before each read."""
        waiter = asyncio.Event()
        self._waiters.add(waiter)
        try:
            yield waiter
        finally:
            self._waiters.discard(waiter)
