"""Errors raised by the event store."""

from __future__ import annotations


class EventStoreError(Exception):
    """Base class of the event store's own errors."""


class RefusedData(EventStoreError):
    """PostgreSQL refused an append's data (SQLSTATE class 22), or the driver could not
    encode it: the same data is refused again, so retrying is pointless.

    The message names the SQLSTATE only, never the data (a customer's input).
    """

    def __init__(self, stream_id: str, sqlstate: str | None) -> None:
        super().__init__(f"stream {stream_id!r}: the data was refused ({sqlstate or 'encoding'})")
        self.stream_id = stream_id
        self.sqlstate = sqlstate


class WrongExpectedVersion(EventStoreError):
    """The stream moved on since the caller read it: reload, decide again, retry."""

    def __init__(self, stream_id: str, expected_version: int) -> None:
        super().__init__(f"stream {stream_id!r} is not at version {expected_version}")
        self.stream_id = stream_id
        self.expected_version = expected_version
