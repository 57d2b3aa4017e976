"""Errors raised by the event store."""

from __future__ import annotations


class EventStoreError(Exception):
    """Base class of the event store's own errors."""


class WrongExpectedVersion(EventStoreError):
    """The stream moved on since the caller read it: reload, decide again, retry."""

    def __init__(self, stream_id: str, expected_version: int) -> None:
        super().__init__(f"stream {stream_id!r} is not at version {expected_version}")
        self.stream_id = stream_id
        self.expected_version = expected_version
