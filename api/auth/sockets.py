"""How many WebSockets each caller may hold open in one process.

Operations per socket are Strawberry's own limit (`max_subscriptions_per_connection`),
explained by `api.http.ws_protocol`.
"""

from __future__ import annotations

from collections import Counter

Caller = tuple[str, str]
"""A caller across tenants: (tenant, token subject)."""


class SocketsPerCaller:
    """Counts the WebSockets each caller holds open in this process, up to `cap`.

    Per process, so a caller may hold `cap` sockets on each API replica: the cap
    bounds what one client can pin in one process's memory, not fleet-wide use.
    """

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._open: Counter[Caller] = Counter()

    def take(self, caller: Caller) -> bool:
        """Count one more socket for `caller`, unless it already holds `cap`."""
        if self._open[caller] >= self.cap:
            return False
        self._open[caller] += 1
        return True

    def give_back(self, caller: Caller) -> None:
        self._open[caller] -= 1
        if self._open[caller] <= 0:
            del self._open[caller]

    def held(self, caller: Caller) -> int:
        return self._open[caller]
