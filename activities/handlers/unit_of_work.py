"""One command's transaction: load aggregates, record decisions, commit with projections."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import structlog
from pydantic import ValidationError
from sqlalchemy.exc import DataError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.errors import Conflict, InvalidInput
from domain.messages import DomainEvent
from domain.snapshots import SnapshotPolicy
from eventstore import (
    EventMetadata,
    EventStore,
    FollowedEventStore,
    Position,
    PreviousOutcome,
    RecordedEvent,
    RefusedData,
    Snapshot,
    WrongExpectedVersion,
)
from read_models import Projection
from tenancy import set_tenant

log = structlog.get_logger(__name__)

S = TypeVar("S")
C = TypeVar("C", contravariant=True)
T = TypeVar("T")
"""The transaction a unit of work runs in: whatever its store takes."""
T_contra = TypeVar("T_contra", contravariant=True)


class InlineProjection(Protocol[T_contra]):
    """A read model updated in the command's own transaction (`read_models.Projection`)."""

    async def apply(self, conn: T_contra, event: RecordedEvent) -> None: ...


class Aggregate(Protocol[S, C]):
    """The shape every aggregate in `domain/` has: pure functions over its state."""

    def initial(self) -> S: ...

    def evolve(self, state: S, event: DomainEvent) -> S: ...

    def decide(self, state: S, command: C) -> list[DomainEvent]: ...


async def load_aggregate(
    conn: T, store: EventStore[T], aggregate: Aggregate[S, Any], stream_id: str
) -> tuple[S, int]:
    """An aggregate's current state and its stream's version, from the stream's events."""
    loaded = await _load(conn, store, aggregate, stream_id)
    return loaded.state, loaded.version


@dataclass
class _Stream:
    state: Any
    version: int
    snapshot_version: int = 0
    """The version of the snapshot it started from (0: none)."""
    snapshots: SnapshotPolicy[Any] | None = None
    pending: list[DomainEvent] = field(default_factory=list)


def _snapshot_policy(aggregate: object) -> SnapshotPolicy[Any] | None:
    policy = getattr(aggregate, "snapshots", None)
    return policy if isinstance(policy, SnapshotPolicy) else None


async def _load(
    conn: T, store: EventStore[T], aggregate: Aggregate[S, Any], stream_id: str
) -> _Stream:
    """Fold the stream's events into the aggregate's state, from its snapshot when it has one."""
    state, version, snapshot_version = aggregate.initial(), 0, 0
    policy = _snapshot_policy(aggregate)
    if policy is not None:
        snapshot = await store.read_snapshot(conn, stream_id)
        if snapshot is not None and snapshot.schema_version == policy.schema_version:
            try:
                state = policy.load(snapshot.state)
            except ValidationError:
                log.warning("snapshot ignored: it no longer validates", stream_id=stream_id)
            else:
                version = snapshot_version = snapshot.version
    for item in await store.read_stream(conn, stream_id, from_version=version + 1):
        state = aggregate.evolve(state, item.event)
        version = item.version
    return _Stream(state, version, snapshot_version, policy)


class UnitOfWork(Generic[T]):
    """Streams loaded and events decided within one command, appended together.

    `decide` loads a stream on first use and keeps its state current, so one
    command can decide on several aggregates, and twice on the same one.
    """

    def __init__(
        self,
        conn: T,
        store: EventStore[T],
        metadata: EventMetadata,
        projections: Sequence[InlineProjection[T]],
    ) -> None:
        self.conn = conn
        self._store = store
        self._metadata = metadata
        self._projections = projections
        self._streams: dict[str, _Stream] = {}

    async def lock(self, *stream_ids: str) -> None:
        """Queue behind other writers of these streams until this transaction ends.

        For streams many commands write at once (one product's stock during a
        sale): waiting in line costs less than deciding, conflicting and
        deciding again. Streams are locked in sorted order, so two commands
        never wait for each other.
        """
        await self._store.lock_streams(self.conn, stream_ids)

    async def load(self, aggregate: Aggregate[S, Any], stream_id: str) -> S:
        """The current state of one aggregate, including what this command decided."""
        stream = self._streams.get(stream_id)
        if stream is None:
            stream = await _load(self.conn, self._store, aggregate, stream_id)
            self._streams[stream_id] = stream
        state_now: S = stream.state
        return state_now

    async def decide(
        self, aggregate: Aggregate[S, C], stream_id: str, command: C
    ) -> list[DomainEvent]:
        """Let `aggregate` decide on `command`; its events are appended at commit."""
        state = await self.load(aggregate, stream_id)
        decided = aggregate.decide(state, command)
        stream = self._streams[stream_id]
        for event in decided:
            stream.state = aggregate.evolve(stream.state, event)
        stream.pending.extend(decided)
        return decided

    async def commit(self) -> Position | None:
        """Append every stream's new events and project them inline.

        Returns the position of the last event appended, or None when the
        command decided nothing. The caller commits the transaction.
        """
        last: Position | None = None
        for stream_id, stream in self._streams.items():
            if not stream.pending:
                continue
            result = await self._store.append(
                self.conn, stream_id, stream.version, stream.pending, self._metadata
            )
            for recorded in result.events:
                for projection in self._projections:
                    await projection.apply(self.conn, recorded)
            policy = stream.snapshots
            due = policy is not None and policy.due(stream.snapshot_version, result.last_version)
            # A duplicate wrote nothing: the state holds what this attempt decided, not
            # what the first one wrote.
            if policy is not None and due and not result.duplicate:
                snapshot = Snapshot(
                    stream_id=stream_id,
                    version=result.last_version,
                    schema_version=policy.schema_version,
                    state=policy.dump(stream.state),
                )
                await self._store.save_snapshot(self.conn, snapshot)
            last = result.position if last is None else max(last, result.position)
        return last


Handler = Callable[[UnitOfWork[AsyncConnection]], Awaitable[None]]
"""What `run_in_unit_of_work` runs: a command handler with its message bound."""


def _require_same_input(previous: PreviousOutcome, metadata: EventMetadata) -> None:
    """A command id the client chose (its `requestId`) may come back only with the same input."""
    if None not in (previous.fingerprint, metadata.fingerprint) and (
        previous.fingerprint != metadata.fingerprint
    ):
        raise Conflict(
            "this requestId was used before with other input; send a new requestId",
            field="requestId",
        )


async def run_in_unit_of_work(
    engine: AsyncEngine,
    store: FollowedEventStore,
    metadata: EventMetadata,
    projections: Sequence[Projection],
    handler: Handler,
    *,
    conflict_retries: int,
) -> Position | None:
    """Run `handler` in a transaction, retrying from scratch on version conflicts.

    A command that was applied before (same command id) is not run again: its
    earlier position is returned, so at-least-once activity execution changes
    nothing twice. Followers are notified after the commit.
    """
    for attempt in range(conflict_retries + 1):
        try:
            async with engine.begin() as conn:
                await set_tenant(conn, metadata.tenant_id)
                previous = await store.previous_outcome(conn, metadata.command_id)
                if previous is not None:
                    _require_same_input(previous, metadata)
                    return previous.position
                unit = UnitOfWork(conn, store, metadata, projections)
                await handler(unit)
                position = await unit.commit()
        except (DataError, RefusedData):
            # Data PostgreSQL refuses (an encoding error, say) will be refused again:
            # a final answer now, never minutes of retries.
            raise InvalidInput("the database refused this command's data") from None
        except WrongExpectedVersion:
            if attempt == conflict_retries:
                raise
            # Jitter spreads out writers that collided so they do not collide again.
            await asyncio.sleep(random.uniform(0, min(0.2, 0.005 * 2**attempt)))
            continue
        if position is not None:
            # One statement in autocommit: no BEGIN and COMMIT round trips for it.
            async with engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await store.notify(
                    conn,
                    position,
                    correlation_id=metadata.correlation_id,
                    tenant=metadata.tenant_id,
                )
        return position
    raise AssertionError("unreachable")
