"""Upcasters: each turns the stored payload of one event version into the next's.

Stored events are never rewritten. When an event's shape changes, its class
takes the next `event_version` and an entry here reads every older payload
in the new shape; `tests/events/` keeps a stored example of every version
that was ever written, and decodes each through these on every run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Payload = dict[str, Any]


def order_placed_v1_to_v2(payload: Payload) -> Payload:
    """Orders placed before the currency was recorded were all in yen."""
    return {**payload, "currency": "JPY"}


UPCASTERS: tuple[tuple[str, int, Callable[[Payload], Payload]], ...] = (
    ("OrderPlaced", 1, order_placed_v1_to_v2),
)
"""(event type, the version it reads, the function): registered by the composition root."""
