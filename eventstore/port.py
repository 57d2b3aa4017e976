"""The event store's port: what handlers, projections, the projector and operators depend on.

`EventStore[Tx]` is the log itself, generic in the transaction its caller
holds: two stores implement it, `eventstore.postgres.PostgresEventStore` (on
SQLAlchemy's `AsyncConnection`, so an append and the inline projections of
its events commit or roll back together) and `eventstore.memory.InMemoryEventStore`
(on its own `MemoryTransaction`, for tests of handlers that need no database),
and one contract suite (`tests/eventstore/test_contract.py`) runs against both.

`FollowedEventStore` adds what only a store that other processes follow has:
who holds their horizon back, and a wake-up after a commit. Only PostgreSQL
has either, and the processes that need them (the projector, readiness, the
operator commands, the unit of work's commit) say so by asking for it.

Everything outside `eventstore/` is typed against these protocols; only the
composition root (`bootstrap.py`) names an implementation.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from domain.messages import DomainEvent
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

Tx = TypeVar("Tx", contravariant=True)
"""The transaction a store's caller holds; every method runs inside it."""


class EventStore(Protocol[Tx]):
    """An append-only log of domain events, read per stream or in one global order.

    Every method takes the caller's transaction, so what a command appends and
    what it reads back are one unit: both commit, or neither.
    """

    async def append(
        self,
        tx: Tx,
        stream_id: str,
        expected_version: int,
        new_events: Sequence[DomainEvent],
        metadata: EventMetadata,
    ) -> AppendResult:
        """Append to a stream at `expected_version`; idempotent per `metadata.command_id`."""
        ...

    async def read_stream(
        self, tx: Tx, stream_id: str, *, from_version: int = 1
    ) -> list[RecordedEvent]: ...

    async def read_snapshot(self, tx: Tx, stream_id: str) -> Snapshot | None:
        """The latest snapshot of a stream, if one was saved."""
        ...

    async def save_snapshot(self, tx: Tx, snapshot: Snapshot) -> None:
        """Keep `snapshot` unless the stored one is newer (of the same schema version)."""
        ...

    async def read_all(
        self,
        tx: Tx,
        *,
        after: Position = START,
        limit: int = 1000,
        settled_only: bool = True,
    ) -> list[RecordedEvent]:
        """The global log after `after`, gap-free: only events no running transaction precedes."""
        ...

    async def read_correlated(self, tx: Tx, correlation_id: str) -> list[RecordedEvent]:
        """Every event of one correlation (an order's saga), across streams, in log order."""
        ...

    async def last_position(self, tx: Tx) -> Position:
        """The position of the newest settled event (`START` when there is none)."""
        ...

    async def backlog(self, tx: Tx, *, after: Position, limit: int = 10_000) -> Backlog:
        """Settled events after `after` (counted up to `limit`) and when the oldest was recorded."""
        ...

    async def previous_outcome(self, tx: Tx, command_id: str) -> PreviousOutcome | None:
        """What an already-applied command left (its last event), or None if it never ran."""
        ...

    async def lock_streams(self, tx: Tx, stream_ids: Iterable[str]) -> None:
        """Make other writers of these streams wait until this transaction ends.

        For streams many commands write at once (one product's stock during a
        sale): waiting in line costs less than conflicting and deciding again.
        """
        ...


class FollowedEventStore(EventStore[AsyncConnection], Protocol):
    """The event store that the projector, subscriptions and caches of other processes follow."""

    async def horizon_holder(self, conn: AsyncConnection) -> HorizonHolder | None:
        """The oldest open transaction that holds every follower back, if any.

        Followers read only below the oldest running writer (so they skip
        nothing): a transaction left open stalls them all, while their lag, counted
        in settled events, stays zero.
        """
        ...

    async def notify(
        self,
        conn: AsyncConnection,
        position: Position,
        *,
        correlation_id: str | None = None,
        tenant: str | None = None,
    ) -> None:
        """Wake followers, the readers of `correlation_id` (an order, for its
        subscribers) and what caches `tenant`'s reads; call after the appending
        transaction has committed."""
        ...
