"""The event store in memory: the `EventStore` port for tests that need no database.

It keeps the promises the contract suite checks on both stores: optimistic
appends per stream (a writer of a stream another open transaction writes waits
for it, as PostgreSQL's unique key makes it wait), idempotency per (stream,
command id), a global order by (transaction id, sequence) read only below the
oldest transaction that has written, a transaction id taken at its first write
(as PostgreSQL's is), events encoded through the registry (so upcasters run
on read, and a NUL byte is refused as PostgreSQL refuses it), snapshots that
never go back, and a lock per stream held until the transaction ends.

Where it differs, on purpose: a transaction acts for one tenant and sees only
its streams (row-level security's effect), also in the reads that follow a
whole-log read, which on PostgreSQL see every tenant for the rest of their
transaction. One process's memory, one event loop; nothing survives it.
Inline projections live in PostgreSQL, so a unit of work here runs without them.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from domain.messages import DomainEvent
from eventstore.errors import RefusedData, WrongExpectedVersion
from eventstore.records import (
    START,
    AppendResult,
    Backlog,
    EventMetadata,
    Position,
    PreviousOutcome,
    RecordedEvent,
    Snapshot,
)
from eventstore.registry import EventRegistry


@dataclass(frozen=True, slots=True)
class _Stored:
    """An event as the PostgreSQL store keeps it: its payload encoded, its metadata whole."""

    tenant: str
    position: Position
    stream_id: str
    version: int
    event_id: str
    event_type: str
    event_version: int
    data: str
    metadata: EventMetadata
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class _Claim:
    """One command's append to one stream (the PostgreSQL store's `stream_commands`)."""

    first_version: int
    last_version: int
    position: Position


@dataclass
class MemoryLog:
    """What the stores on it share: the committed log, its claims and snapshots."""

    events: list[_Stored] = field(default_factory=list)
    claims: dict[tuple[str, str, str], _Claim] = field(default_factory=dict)
    snapshots: dict[tuple[str, str], Snapshot] = field(default_factory=dict)
    open: dict[int, MemoryTransaction] = field(default_factory=dict)
    """Transactions that have written and neither committed nor rolled back, by id."""
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    transaction_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    sequence: itertools.count[int] = field(default_factory=lambda: itertools.count(1))


@dataclass
class MemoryTransaction:
    """A transaction on a `MemoryLog`: what it wrote is seen by it alone until it commits."""

    log: MemoryLog
    tenant: str
    id: int | None = None
    """Taken at the first write, as PostgreSQL takes a transaction id."""
    events: list[_Stored] = field(default_factory=list)
    claims: dict[tuple[str, str, str], _Claim] = field(default_factory=dict)
    snapshots: dict[tuple[str, str], Snapshot] = field(default_factory=dict)
    held: list[asyncio.Lock] = field(default_factory=list)
    done: bool = False
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    def writing(self) -> int:
        """This transaction's id, taken now if it has none: from here on it holds the horizon."""
        if self.id is None:
            self.id = next(self.log.transaction_ids)
            self.log.open[self.id] = self
        return self.id

    def commit(self) -> None:
        self._end()
        self.log.events.extend(self.events)
        self.log.claims.update(self.claims)
        for key, snapshot in self.snapshots.items():
            if _replaces(self.log.snapshots.get(key), snapshot):
                self.log.snapshots[key] = snapshot

    def rollback(self) -> None:
        self._end()

    def _end(self) -> None:
        if self.done:
            raise RuntimeError("this transaction has ended")
        self.done = True
        if self.id is not None:
            self.log.open.pop(self.id, None)
        for lock in self.held:
            lock.release()
        self.ended.set()


class InMemoryEventStore:
    """The event store in this process's memory (see the module's docstring)."""

    def __init__(self, registry: EventRegistry, log: MemoryLog | None = None) -> None:
        self._registry = registry
        self.log = log or MemoryLog()

    def begin(self, tenant: str) -> MemoryTransaction:
        """A transaction acting for `tenant`; the caller commits or rolls it back."""
        return MemoryTransaction(self.log, tenant)

    @asynccontextmanager
    async def transaction(self, tenant: str) -> AsyncIterator[MemoryTransaction]:
        """A transaction that commits when the block ends, and rolls back on an error."""
        tx = self.begin(tenant)
        try:
            yield tx
        except BaseException:
            if not tx.done:
                tx.rollback()
            raise
        if not tx.done:
            tx.commit()

    async def append(
        self,
        tx: MemoryTransaction,
        stream_id: str,
        expected_version: int,
        new_events: Sequence[DomainEvent],
        metadata: EventMetadata,
    ) -> AppendResult:
        if not new_events:
            raise ValueError("append needs at least one event")
        _check_open(tx)
        if metadata.tenant_id != tx.tenant:
            raise PermissionError(f"a transaction of {tx.tenant!r} cannot append for another")
        # Wait for any other open writer of this stream, as PostgreSQL's unique
        # keys make an append wait: it may commit (then this one conflicts, or is
        # its duplicate) or roll back (then this one goes ahead).
        while (writer := self._other_writer(tx, stream_id)) is not None:
            await writer.ended.wait()
        claim_key = (tx.tenant, stream_id, metadata.command_id)
        claimed = self._claim(tx, claim_key)
        if claimed is not None:
            return AppendResult(
                stream_id=stream_id,
                first_version=claimed.first_version,
                last_version=claimed.last_version,
                position=claimed.position,
                duplicate=True,
            )
        taken = [e for e in self._visible(tx) if e.stream_id == stream_id]
        if max((e.version for e in taken), default=0) != expected_version:
            raise WrongExpectedVersion(stream_id, expected_version)
        encoded = [self._registry.encode(event) for event in new_events]
        if any(_NUL in data for _, _, data in encoded) or _NUL in metadata.model_dump_json():
            raise RefusedData(stream_id, _UNTRANSLATABLE)
        transaction_id = tx.writing()
        at = datetime.now(UTC)
        stored = []
        for version, (event_type, event_version, data) in enumerate(
            encoded, start=expected_version + 1
        ):
            stored.append(
                _Stored(
                    tenant=tx.tenant,
                    position=Position(transaction_id, next(self.log.sequence)),
                    stream_id=stream_id,
                    version=version,
                    event_id=str(uuid.uuid4()),
                    event_type=event_type,
                    event_version=event_version,
                    data=data,
                    metadata=metadata,
                    recorded_at=at,
                )
            )
        tx.events.extend(stored)
        claim = _Claim(expected_version + 1, stored[-1].version, stored[-1].position)
        tx.claims[claim_key] = claim
        recorded = tuple(
            RecordedEvent(
                position=s.position,
                stream_id=stream_id,
                version=s.version,
                event_id=s.event_id,
                event=event,
                metadata=metadata,
                recorded_at=at,
            )
            for s, event in zip(stored, new_events, strict=True)
        )
        return AppendResult(
            stream_id=stream_id,
            first_version=claim.first_version,
            last_version=claim.last_version,
            position=claim.position,
            events=recorded,
        )

    async def read_stream(
        self, tx: MemoryTransaction, stream_id: str, *, from_version: int = 1
    ) -> list[RecordedEvent]:
        _check_open(tx)
        found = [
            e for e in self._visible(tx) if e.stream_id == stream_id and e.version >= from_version
        ]
        return self._decode(sorted(found, key=lambda e: e.version))

    async def read_snapshot(self, tx: MemoryTransaction, stream_id: str) -> Snapshot | None:
        _check_open(tx)
        key = (tx.tenant, stream_id)
        return tx.snapshots.get(key) or self.log.snapshots.get(key)

    async def save_snapshot(self, tx: MemoryTransaction, snapshot: Snapshot) -> None:
        _check_open(tx)
        key = (tx.tenant, snapshot.stream_id)
        if _replaces(tx.snapshots.get(key) or self.log.snapshots.get(key), snapshot):
            tx.writing()
            tx.snapshots[key] = snapshot

    async def read_all(
        self,
        tx: MemoryTransaction,
        *,
        after: Position = START,
        limit: int = 1000,
        settled_only: bool = True,
    ) -> list[RecordedEvent]:
        """Every tenant's events, as the PostgreSQL store's whole-log read gives them."""
        _check_open(tx)
        candidates = self.log.events if settled_only else [*self.log.events, *tx.events]
        later = sorted((e for e in candidates if after < e.position), key=lambda e: e.position)[
            :limit
        ]
        if settled_only:
            horizon = self._horizon()
            later = [e for e in later if e.position.transaction_id < horizon]
        return self._decode(later)

    async def read_correlated(
        self, tx: MemoryTransaction, correlation_id: str
    ) -> list[RecordedEvent]:
        _check_open(tx)
        found = [e for e in self._visible(tx) if e.metadata.correlation_id == correlation_id]
        return self._decode(sorted(found, key=lambda e: e.position))

    async def last_position(self, tx: MemoryTransaction) -> Position:
        _check_open(tx)
        settled = self._settled()
        return max((e.position for e in settled), default=START)

    async def backlog(
        self, tx: MemoryTransaction, *, after: Position, limit: int = 10_000
    ) -> Backlog:
        _check_open(tx)
        pending = sorted(
            (e for e in self._settled() if after < e.position), key=lambda e: e.position
        )[:limit]
        return Backlog(
            events=len(pending), oldest=min((e.recorded_at for e in pending), default=None)
        )

    async def previous_outcome(
        self, tx: MemoryTransaction, command_id: str
    ) -> PreviousOutcome | None:
        _check_open(tx)
        claims = {**self.log.claims, **tx.claims}
        mine = [
            claim
            for (tenant, _, command), claim in claims.items()
            if tenant == tx.tenant and command == command_id
        ]
        if not mine:
            return None
        last = max(mine, key=lambda claim: claim.position)
        event = next(e for e in self._visible(tx) if e.position == last.position)
        return PreviousOutcome(last.position, event.metadata.fingerprint)

    async def lock_streams(self, tx: MemoryTransaction, stream_ids: Iterable[str]) -> None:
        """Wait for each stream's lock in sorted order; held until the transaction ends."""
        _check_open(tx)
        for stream_id in sorted(set(stream_ids)):
            # By stream id alone, as PostgreSQL's advisory lock hashes it.
            lock = self.log.locks.setdefault(stream_id, asyncio.Lock())
            if lock in tx.held:
                continue
            await lock.acquire()
            if tx.done:  # ended while this waited: nothing would ever release it
                lock.release()
                raise RuntimeError("this transaction has ended")
            tx.held.append(lock)

    def _claim(self, tx: MemoryTransaction, key: tuple[str, str, str]) -> _Claim | None:
        return tx.claims.get(key) or self.log.claims.get(key)

    def _visible(self, tx: MemoryTransaction) -> list[_Stored]:
        """What `tx` sees: its tenant's committed events, and its own."""
        return [e for e in self.log.events if e.tenant == tx.tenant] + tx.events

    def _other_writer(self, tx: MemoryTransaction, stream_id: str) -> MemoryTransaction | None:
        """Another open transaction that has written to `tx`'s tenant's `stream_id`."""
        for other in self.log.open.values():
            if other is not tx and any(
                e.tenant == tx.tenant and e.stream_id == stream_id for e in other.events
            ):
                return other
        return None

    def _horizon(self) -> int:
        """Every transaction id below this has ended: nothing can still appear there."""
        return min(self.log.open, default=2**63)

    def _settled(self) -> list[_Stored]:
        horizon = self._horizon()
        return [e for e in self.log.events if e.position.transaction_id < horizon]

    def _decode(self, stored: Iterable[_Stored]) -> list[RecordedEvent]:
        decode = self._registry.decode_json
        return [
            RecordedEvent(
                position=e.position,
                stream_id=e.stream_id,
                version=e.version,
                event_id=e.event_id,
                event=decode(e.event_type, e.event_version, e.data),
                metadata=e.metadata,
                recorded_at=e.recorded_at,
            )
            for e in stored
        ]


def _replaces(stored: Snapshot | None, snapshot: Snapshot) -> bool:
    """A snapshot replaces an older one, or one of another schema version."""
    return (
        stored is None
        or stored.version < snapshot.version
        or stored.schema_version != snapshot.schema_version
    )


_NUL = "\\u0000"
"""A NUL character as JSON writes it: PostgreSQL's JSON and text types cannot hold one."""
_UNTRANSLATABLE = "22P05"
"""The SQLSTATE PostgreSQL refuses it with (`untranslatable_character`)."""


def _check_open(tx: MemoryTransaction) -> None:
    if tx.done:
        raise RuntimeError("this transaction has ended")
