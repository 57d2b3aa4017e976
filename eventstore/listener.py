"""Waking readers when the log grows: one LISTEN connection shared by a process.

Each notification carries the last position appended, the correlation id of
the command that appended (for a saga's steps, the order's id) and its tenant
(whose cached catalog answers go stale: `api.guards.read_cache`), so a reader can
wait for the whole log (a follower) or for one correlation id only (an order's
subscribers): two hundred subscribers of quiet orders are not woken, and ask
nothing of the database, when other orders change.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from eventstore.records import Position

NOTIFY_CHANNEL = "eventstore_appended"
"""Where the store announces appends (after they commit): see `notification_payload`."""

RECONNECT_SECONDS = 1.0

log = structlog.get_logger(__name__)


def notification_payload(
    position: Position, correlation_id: str | None, tenant: str | None = None
) -> str:
    """`<position> <correlation id> <tenant>`, `-` for either when there is none.

    Neither ids nor tenant names hold spaces.
    """
    return f"{position} {correlation_id or '-'} {tenant or '-'}"


def correlation_of(payload: str) -> str | None:
    parts = payload.split(" ")
    return parts[1] if len(parts) > 1 and parts[1] != "-" else None


def tenant_of(payload: str) -> str | None:
    parts = payload.split(" ")
    return parts[2] if len(parts) > 2 and parts[2] != "-" else None


Changed = Callable[[str | None], None]
"""Told the tenant whose log grew (None: any may have, after notifications were lost)."""


class LogListener:
    """Sets the registered `asyncio.Event`s when a command appends events.

    When its connection drops it reconnects and wakes every reader, since
    notifications sent meanwhile are lost; readers also re-check on their own
    after a bounded wait, as nothing is promised by a notification.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._everything: set[asyncio.Event] = set()
        self._by_correlation: dict[str, set[asyncio.Event]] = {}
        self._watchers: list[Changed] = []
        self._conn: AsyncConnection | None = None
        self._driver: Any = None
        self._reconnecting: asyncio.Task[None] | None = None
        self._stopped = False

    async def start(self) -> None:
        self._stopped = False
        self._conn = await self._engine.connect()
        try:
            raw = await self._conn.get_raw_connection()
            self._driver = raw.driver_connection
            # Told of a loss first, so none goes unnoticed while LISTEN is set up.
            self._driver.add_termination_listener(self._lost)
            await self._driver.add_listener(NOTIFY_CHANNEL, self._wake)
        except BaseException:
            await self._close()  # the connection goes back, not leaked
            raise

    async def stop(self) -> None:
        self._stopped = True
        if self._reconnecting is not None:
            self._reconnecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconnecting
        await self._close()

    async def _close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._driver.remove_termination_listener(self._lost)
                await self._driver.remove_listener(NOTIFY_CHANNEL, self._wake)
            with contextlib.suppress(Exception):
                await self._conn.invalidate()
                await self._conn.close()
            self._conn = None

    def _lost(self, *_: Any) -> None:
        if not self._stopped and self._reconnecting is None:
            self._reconnecting = asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        await self._close()
        while not self._stopped:
            try:
                await self.start()
            except Exception as error:  # the database is down: try again shortly
                log.warning("log listener cannot reconnect", error=type(error).__name__)
                await asyncio.sleep(RECONNECT_SECONDS)
                continue
            log.info("log listener reconnected")
            self._wake_all()
            break
        self._reconnecting = None

    def on_change(self, watcher: Changed) -> None:
        """Call `watcher` with the tenant of every append, for as long as the process runs."""
        self._watchers.append(watcher)

    def _wake(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        tenant = tenant_of(payload)
        for watcher in self._watchers:
            watcher(tenant)
        for waiter in self._everything:
            waiter.set()
        correlation_id = correlation_of(payload)
        for waiter in self._by_correlation.get(correlation_id or "", ()):
            waiter.set()

    def _wake_all(self) -> None:
        for watcher in self._watchers:
            watcher(None)
        for waiter in self._everything:
            waiter.set()
        for waiters in self._by_correlation.values():
            for waiter in waiters:
                waiter.set()

    @contextlib.asynccontextmanager
    async def subscription(self, correlation_id: str | None = None) -> AsyncIterator[asyncio.Event]:
        """An event set on every append, or only on those of `correlation_id`;
        clear it before each read."""
        waiter = asyncio.Event()
        waiters = (
            self._everything
            if correlation_id is None
            else self._by_correlation.setdefault(correlation_id, set())
        )
        waiters.add(waiter)
        try:
            yield waiter
        finally:
            waiters.discard(waiter)
            if correlation_id is not None and not waiters:
                self._by_correlation.pop(correlation_id, None)
