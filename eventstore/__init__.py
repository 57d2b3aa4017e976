"""The event store: an append-only log of domain events.

Callers depend on the port (`EventStore`, and `FollowedEventStore` where other
processes follow the log) and the values defined here. The PostgreSQL
implementation lives in `eventstore.postgres` and LISTEN in
`eventstore.listener`, which only the composition root imports; the store in
memory, for tests of handlers, in `eventstore.memory`; the log
follower, `eventstore.follower`, is imported by the two things that follow the
log: the projector's runner and `shop events tail` (`ops.events`).
"""

from eventstore.errors import EventStoreError, RefusedData, WrongExpectedVersion
from eventstore.port import EventStore, FollowedEventStore
from eventstore.records import (
    START,
    AppendResult,
    Backlog,
    EventMetadata,
    HorizonHolder,
    Position,
    PreviousOutcome,
    RecordedEvent,
    Snapshot,
)
from eventstore.registry import EventRegistry, UnknownEventType

__all__ = [
    "START",
    "AppendResult",
    "Backlog",
    "EventMetadata",
    "EventRegistry",
    "EventStore",
    "EventStoreError",
    "FollowedEventStore",
    "HorizonHolder",
    "Position",
    "PreviousOutcome",
    "RecordedEvent",
    "RefusedData",
    "Snapshot",
    "UnknownEventType",
    "WrongExpectedVersion",
]
