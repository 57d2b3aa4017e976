"""Paging arguments shared by every list: `first` (1 to 1,000) and `after`.

`after` is the id of the last row of the previous page where rows have ids
(products, categories, orders), and the `cursor` of the last row where they are
events in log order (price histories, timelines).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from typing import TypeVar

from api.errors import ApiError
from api.guards.cost import MAX_PAGE
from domain.errors import ErrorCode
from read_models.queries import LogPosition, UnknownCursor

T = TypeVar("T")


def check_first(first: int) -> None:
    if not 1 <= first <= MAX_PAGE:
        raise ApiError(
            ErrorCode.VALIDATION, f"first must be between 1 and {MAX_PAGE}", field="first"
        )


async def fetch_page(kind: str, first: int, after: object, fetch: Callable[[], Awaitable[T]]) -> T:
    """Check `first`, then run `fetch`, reporting an `after` that names nothing as a typed error."""
    check_first(first)
    try:
        return await fetch()
    except UnknownCursor:
        raise ApiError(
            ErrorCode.VALIDATION, f"no {kind} {after} to page after", field="after"
        ) from None


def log_cursor(transaction_id: int, sequence: int) -> str:
    """An opaque cursor for a row in log order: clients pass it back, never build it."""
    return base64.urlsafe_b64encode(f"{transaction_id}.{sequence}".encode()).decode()


def log_page(owner: str, first: int, after: str | None) -> tuple[str, int, LogPosition | None]:
    """The DataLoader key of a page in log order (a price history, a timeline), checked."""
    check_first(first)
    return owner, first, parse_log_cursor(after)


def parse_log_cursor(after: str | None) -> LogPosition | None:
    if after is None:
        return None
    position = None
    try:
        if len(after) <= 100:
            transaction_id, sequence = base64.urlsafe_b64decode(after.encode()).decode().split(".")
            position = LogPosition(int(transaction_id), int(sequence))
    except (ValueError, UnicodeError, binascii.Error):
        pass
    if position is None or not all(
        0 <= n < 2**63 for n in (position.transaction_id, position.sequence)
    ):
        raise ApiError(ErrorCode.VALIDATION, "after is not a cursor of this list", field="after")
    return position
