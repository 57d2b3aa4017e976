"""Paging arguments shared by every list: `first` (1 to 1,000) and `after` (an id)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from api.errors import ApiError
from domain.errors import ErrorCode
from read_models.queries import UnknownCursor

MAX_PAGE = 1000

T = TypeVar("T")


async def fetch_page(kind: str, first: int, after: object, fetch: Callable[[], Awaitable[T]]) -> T:
    """Check `first`, then run `fetch`, reporting an `after` that names nothing as a typed error."""
    if not 1 <= first <= MAX_PAGE:
        raise ApiError(
            ErrorCode.VALIDATION, f"first must be between 1 and {MAX_PAGE}", field="first"
        )
    try:
        return await fetch()
    except UnknownCursor:
        raise ApiError(
            ErrorCode.VALIDATION, f"no {kind} {after} to page after", field="after"
        ) from None
