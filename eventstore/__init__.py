"""The event store: an append-only log of domain events in PostgreSQL.

Use `PostgresEventStore` to append and read events inside a caller's
transaction, and `follow` to stream the global log as it grows.
"""

from eventstore.errors import EventStoreError, WrongExpectedVersion
from eventstore.follower import follow
from eventstore.records import AppendResult, EventMetadata, Position, RecordedEvent
from eventstore.registry import EventRegistry, UnknownEventType
from eventstore.store import EventStore, PostgresEventStore

__all__ = [
    "AppendResult",
    "EventMetadata",
    "EventRegistry",
    "EventStore",
    "EventStoreError",
    "Position",
    "PostgresEventStore",
    "RecordedEvent",
    "UnknownEventType",
    "WrongExpectedVersion",
    "follow",
]
