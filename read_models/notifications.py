"""What a reader needs to follow the log: a wake-up when it grows.

The read side's own port; `eventstore.listener.LogListener` implements it with
one LISTEN connection per process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol


class Notifications(Protocol):
    """Wakes readers when the log grows (one listening connection shared by a process)."""

    def subscription(
        self, correlation_id: str | None = None
    ) -> AbstractAsyncContextManager[asyncio.Event]:
        """An event set on every append, or only on appends of commands correlated
        with `correlation_id` (an order's saga steps carry the order's id); clear it
        before each read."""
        ...

    def on_change(self, watcher: Callable[[str | None], None]) -> None:
        """Call `watcher` with the tenant of every append (None: any tenant may have
        changed, when notifications were lost)."""
        ...
