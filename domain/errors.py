"""Typed business-rule violations.

Every error carries a stable `code` (the GraphQL `extensions.code` the API
answers with) and, where one input is at fault, the `field` it came from.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar


class ErrorCode(StrEnum):
    VALIDATION = "VALIDATION"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"
    OUT_OF_STOCK = "OUT_OF_STOCK"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
    """A document sent by hash alone that the API does not know: send its text too."""
    UNAVAILABLE = "UNAVAILABLE"
    """A service the request needs (Temporal) is down or did not answer in time: retry."""
    INTERNAL = "INTERNAL"


class DomainError(Exception):
    """A command was refused by a business rule; retrying it unchanged fails again."""

    code: ClassVar[ErrorCode] = ErrorCode.VALIDATION

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(DomainError):
    code = ErrorCode.VALIDATION


class NotFound(DomainError):
    code = ErrorCode.NOT_FOUND


class Conflict(DomainError):
    code = ErrorCode.CONFLICT
