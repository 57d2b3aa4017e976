"""The event store's contract: one suite, run against every store.

`Contract` holds what every implementation of the `EventStore` port must do;
`TestInMemoryStore` and `TestPostgresStore` run it against the store in memory
and against every PostgreSQL under test (eventsourcing's way: backends cannot
drift). What only PostgreSQL has (followers, NOTIFY, isolation levels, the
driver path) is tested below the classes, on PostgreSQL alone.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from database import create_engine
from domain.catalog import CategoryCreated, CategoryRenamed
from domain.messages import DomainEvent
from eventstore import (
    EventMetadata,
    EventRegistry,
    Position,
    RecordedEvent,
    RefusedData,
    WrongExpectedVersion,
)
from eventstore.follower import follow
from eventstore.memory import InMemoryEventStore, MemoryLog, MemoryTransaction
from eventstore.port import EventStore
from eventstore.postgres import PostgresEventStore
from eventstore.records import Snapshot


@pytest.fixture(scope="module")
async def db(any_database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(any_database_url, pool_size=20)
    yield engine
    await engine.dispose()


def meta(command_id: str | None = None) -> EventMetadata:
    command_id = command_id or str(uuid.uuid4())
    return EventMetadata(
        command_id=command_id,
        correlation_id=f"corr-{command_id}",
        causation_id=command_id,
        actor="tester",
        tenant_id="t1",
        trace={"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
    )


def created(name: str = "Books") -> CategoryCreated:
    return CategoryCreated(category_id=str(uuid.uuid4()), name=name)


def stream() -> str:
    return f"test-{uuid.uuid4()}"


@dataclass
class Held:
    """A transaction left open on purpose, ended by the test."""

    tx: Any
    commit: Callable[[], Any]
    rollback: Callable[[], Any]


class Backend:
    """One store under test and how its transactions begin."""

    store: Any

    def begin(self) -> AbstractAsyncContextManager[Any]:
        """A transaction that commits when the block ends."""
        raise NotImplementedError

    def read(self) -> AbstractAsyncContextManager[Any]:
        """A transaction that only reads."""
        raise NotImplementedError

    async def hold(self) -> Held:
        raise NotImplementedError

    def store_with(self, registry: EventRegistry) -> Any:
        """Another store on the same data, reading through `registry`."""
        raise NotImplementedError


class PostgresBackend(Backend):
    def __init__(self, engine: AsyncEngine, store: PostgresEventStore) -> None:
        self.engine, self.store = engine, store

    def begin(self) -> AbstractAsyncContextManager[Any]:
        return self.engine.begin()

    def read(self) -> AbstractAsyncContextManager[Any]:
        return self.engine.connect()

    async def hold(self) -> Held:
        conn = await self.engine.connect()
        tx = await conn.begin()

        async def end(finish: Callable[[], Any]) -> None:
            await finish()
            await conn.close()

        return Held(conn, lambda: end(tx.commit), lambda: end(tx.rollback))

    def store_with(self, registry: EventRegistry) -> Any:
        return PostgresEventStore(registry)


class MemoryBackend(Backend):
    def __init__(self, registry: EventRegistry) -> None:
        self.log = MemoryLog()
        self.memory = self.store = InMemoryEventStore(registry, self.log)

    def begin(self) -> AbstractAsyncContextManager[Any]:
        return self.memory.transaction(TENANT)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Any]:
        tx = self.store.begin(TENANT)
        try:
            yield tx
        finally:
            tx.rollback()

    async def hold(self) -> Held:
        tx = self.store.begin(TENANT)

        async def commit() -> None:
            tx.commit()

        async def rollback() -> None:
            tx.rollback()

        return Held(tx, commit, rollback)

    def store_with(self, registry: EventRegistry) -> Any:
        return InMemoryEventStore(registry, self.log)


TENANT = "t1"
"""The tenant of every event the suite appends (see `meta`)."""


class RenamedV2(DomainEvent):
    """Version 2 of an event whose `title` was called `name` in version 1."""

    event_type: ClassVar[str] = "UpcastProbe"
    event_version: ClassVar[int] = 2
    title: str


class RenamedV1(DomainEvent):
    event_type: ClassVar[str] = "UpcastProbe"
    name: str


class Contract:
    """What every `EventStore` does; a subclass names the store by its `backend` fixture."""

    async def test_appended_events_read_back_with_their_metadata(self, backend):
        store, stream_id, metadata = backend.store, stream(), meta()
        events = [created("A"), CategoryRenamed(category_id="x", name="B")]
        async with backend.begin() as tx:
            result = await store.append(tx, stream_id, 0, events, metadata)
        assert (result.first_version, result.last_version, result.duplicate) == (1, 2, False)
        assert [e.event for e in result.events] == events

        async with backend.read() as tx:
            read = await store.read_stream(tx, stream_id)
            later = await store.read_stream(tx, stream_id, from_version=2)
        assert [e.event for e in read] == events
        assert [e.version for e in read] == [1, 2]
        assert read[0].metadata == metadata
        assert read[-1].position == result.position
        assert read[0].position < read[1].position
        assert read[0].recorded_at.tzinfo is not None
        assert [e.version for e in later] == [2]

    async def test_a_transaction_reads_what_it_appended_and_nobody_else_does(self, backend):
        store, stream_id = backend.store, stream()
        held = await backend.hold()
        await store.append(held.tx, stream_id, 0, [created()], meta())
        assert len(await store.read_stream(held.tx, stream_id)) == 1
        async with backend.read() as tx:
            assert await store.read_stream(tx, stream_id) == []
        await held.rollback()
        async with backend.read() as tx:
            assert await store.read_stream(tx, stream_id) == []

    async def test_stale_expected_version_conflicts_and_writes_nothing(self, backend):
        store, stream_id = backend.store, stream()
        async with backend.begin() as tx:
            await store.append(tx, stream_id, 0, [created()], meta())
        for stale in (0, 5):
            with pytest.raises(WrongExpectedVersion):
                async with backend.begin() as tx:
                    await store.append(tx, stream_id, stale, [created()], meta())
        async with backend.read() as tx:
            assert len(await store.read_stream(tx, stream_id)) == 1

    async def test_two_appends_racing_for_one_version_leave_one_and_conflict_the_other(
        self, backend
    ):
        store, stream_id = backend.store, stream()
        first_appended = asyncio.Event()

        async def first() -> None:
            async with backend.begin() as tx:
                await store.append(tx, stream_id, 0, [created("first")], meta())
                first_appended.set()
                await asyncio.sleep(0.2)  # the second append meets this one's key

        async def second() -> None:
            await first_appended.wait()
            async with backend.begin() as tx:
                await store.append(tx, stream_id, 0, [created("second")], meta())

        results = await asyncio.gather(first(), second(), return_exceptions=True)
        assert results[0] is None
        assert isinstance(results[1], WrongExpectedVersion)
        async with backend.read() as tx:
            assert [e.event.name for e in await store.read_stream(tx, stream_id)] == ["first"]

    async def test_repeated_command_writes_nothing_and_returns_the_first_result(self, backend):
        store, stream_id, other_stream, metadata = backend.store, stream(), stream(), meta()
        async with backend.begin() as tx:
            first = await store.append(tx, stream_id, 0, [created(), created()], metadata)
        async with backend.begin() as tx:
            again = await store.append(tx, stream_id, 0, [created()], metadata)
        assert again.duplicate
        assert (again.first_version, again.last_version, again.position) == (1, 2, first.position)
        assert again.events == ()

        async with backend.begin() as tx:
            elsewhere = await store.append(tx, other_stream, 0, [created()], metadata)
        assert not elsewhere.duplicate
        async with backend.read() as tx:
            assert len(await store.read_stream(tx, stream_id)) == 2
            assert len(await store.read_stream(tx, other_stream)) == 1

    async def test_a_command_that_ran_leaves_its_last_event_as_its_outcome(self, backend):
        store, metadata = backend.store, meta()
        async with backend.read() as tx:
            assert await store.previous_outcome(tx, metadata.command_id) is None
        async with backend.begin() as tx:
            await store.append(tx, stream(), 0, [created()], metadata)
            last = await store.append(tx, stream(), 0, [created(), created()], metadata)
        async with backend.read() as tx:
            outcome = await store.previous_outcome(tx, metadata.command_id)
        assert outcome is not None and outcome.position == last.position

    async def test_read_all_resumes_after_a_position(self, backend):
        store = backend.store
        async with backend.read() as tx:
            start = await store.last_position(tx)
        ids = []
        for _ in range(3):
            async with backend.begin() as tx:
                result = await store.append(tx, stream(), 0, [created()], meta())
                ids.append(result.events[0].event_id)
        async with backend.read() as tx:
            everything = await store.read_all(tx, after=start)
            rest = await store.read_all(tx, after=everything[0].position)
            two = await store.read_all(tx, after=start, limit=2)
            backlog = await store.backlog(tx, after=start)
            last = await store.last_position(tx)
        assert [e.event_id for e in everything] == ids
        assert [e.event_id for e in rest] == ids[1:]
        assert [e.event_id for e in two] == ids[:2]
        assert Position.parse(str(everything[-1].position)) == everything[-1].position
        assert backlog.events == 3 and backlog.oldest == everything[0].recorded_at
        assert last == everything[-1].position

    async def test_reader_waits_for_a_transaction_held_open_then_delivers_it(self, backend):
        store = backend.store
        async with backend.read() as tx:
            start = await store.last_position(tx)
        held = await backend.hold()
        slow = await store.append(held.tx, stream(), 0, [created("slow")], meta())
        async with backend.begin() as tx:
            fast = await store.append(tx, stream(), 0, [created("fast")], meta())
        assert slow.position < fast.position

        async with backend.read() as tx:
            assert await store.read_all(tx, after=start) == []
            assert (await store.backlog(tx, after=start)).events == 0
            # Without the horizon the later commit is visible: the gap a naive reader makes.
            unsettled = await store.read_all(tx, after=start, settled_only=False)
            assert [e.event_id for e in unsettled] == [fast.events[0].event_id]

        await held.commit()
        async with backend.read() as tx:
            read = await store.read_all(tx, after=start)
        assert [e.event_id for e in read] == [slow.events[0].event_id, fast.events[0].event_id]

    async def test_a_rolled_back_append_does_not_stall_readers(self, backend):
        store = backend.store
        async with backend.read() as tx:
            start = await store.last_position(tx)
        doomed = await backend.hold()
        await store.append(doomed.tx, stream(), 0, [created("doomed")], meta())
        async with backend.begin() as tx:
            kept = await store.append(tx, stream(), 0, [created("kept")], meta())
        await doomed.rollback()
        async with backend.read() as tx:
            read = await store.read_all(tx, after=start)
        assert [e.event_id for e in read] == [kept.events[0].event_id]

    async def test_a_correlation_reads_across_streams_in_log_order(self, backend):
        store, order = backend.store, meta()
        async with backend.begin() as tx:
            one = await store.append(tx, stream(), 0, [created()], order)
        async with backend.begin() as tx:
            other = await store.append(tx, stream(), 0, [created()], meta())
            two = await store.append(
                tx,
                stream(),
                0,
                [created()],
                order.model_copy(update={"command_id": str(uuid.uuid4())}),
            )
        async with backend.read() as tx:
            read = await store.read_correlated(tx, order.correlation_id)
        assert [e.event_id for e in read] == [one.events[0].event_id, two.events[0].event_id]
        assert other.events[0].event_id not in {e.event_id for e in read}

    async def test_old_event_versions_are_upcast_on_read(self, backend):
        writer = backend.store_with(EventRegistry([RenamedV1]))
        reader_registry = EventRegistry([RenamedV2])
        reader_registry.add_upcaster("UpcastProbe", 1, lambda d: {"title": d["name"]})
        reader = backend.store_with(reader_registry)
        stream_id = stream()
        async with backend.begin() as tx:
            await writer.append(tx, stream_id, 0, [RenamedV1(name="old")], meta())
        async with backend.read() as tx:
            (event,) = await reader.read_stream(tx, stream_id)
        assert event.event == RenamedV2(title="old")

    async def test_a_snapshot_is_kept_until_a_newer_or_another_schema_replaces_it(self, backend):
        store, stream_id = backend.store, stream()
        async with backend.read() as tx:
            assert await store.read_snapshot(tx, stream_id) is None
        for version, schema, state in [(5, 1, '{"n": 5}'), (3, 1, '{"n": 3}'), (2, 2, '{"m": 2}')]:
            async with backend.begin() as tx:
                await store.save_snapshot(tx, Snapshot(stream_id, version, schema, state))
                if version == 5:
                    assert (await store.read_snapshot(tx, stream_id)).version == 5
            async with backend.read() as tx:
                kept = await store.read_snapshot(tx, stream_id)
            # An older snapshot of the same schema never replaces a newer one.
            assert (kept.version, kept.schema_version) == ((5, 1) if schema == 1 else (2, 2))

    async def test_a_locked_stream_makes_its_next_writer_wait_for_the_transaction(self, backend):
        store, stream_id = backend.store, stream()
        held = await backend.hold()
        await store.lock_streams(held.tx, [stream_id])
        order: list[str] = []

        async def next_writer() -> None:
            async with backend.begin() as tx:
                await store.lock_streams(tx, [stream_id])
                order.append("second")

        waiting = asyncio.create_task(next_writer())
        await asyncio.sleep(0.2)
        order.append("first ends")
        await held.commit()
        await asyncio.wait_for(waiting, 10)
        assert order == ["first ends", "second"]

    async def test_a_repeat_racing_its_first_run_waits_and_is_its_duplicate(self, backend):
        store, stream_id, metadata = backend.store, stream(), meta()
        held = await backend.hold()
        first = await store.append(held.tx, stream_id, 0, [created()], metadata)

        async def repeat() -> Any:
            async with backend.begin() as tx:
                return await store.append(tx, stream_id, 0, [created()], metadata)

        again = asyncio.create_task(repeat())
        await asyncio.sleep(0.2)
        assert not again.done()  # it waits for the first run's transaction
        await held.commit()
        result = await asyncio.wait_for(again, 10)
        assert result.duplicate and result.position == first.position

    async def test_a_transaction_that_only_read_holds_no_reader_back(self, backend):
        store = backend.store
        async with backend.read() as tx:
            start = await store.last_position(tx)
        reader = await backend.hold()
        await store.read_stream(reader.tx, stream())
        async with backend.begin() as tx:
            written = await store.append(tx, stream(), 0, [created()], meta())
        async with backend.read() as tx:
            assert [e.event_id for e in await store.read_all(tx, after=start)] == [
                written.events[0].event_id
            ]
        await reader.rollback()

    async def test_a_transaction_that_writes_after_a_later_one_committed_is_read_after_it(
        self, backend
    ):
        """Its position comes from its first write, so a reader that passed the other
        commit still reads it (a position taken at its start would fall behind the reader)."""
        store = backend.store
        async with backend.read() as tx:
            start = await store.last_position(tx)
        late = await backend.hold()
        await store.read_stream(late.tx, stream())
        async with backend.begin() as tx:
            early = await store.append(tx, stream(), 0, [created("early")], meta())
        async with backend.read() as tx:
            seen = await store.read_all(tx, after=start)
        assert [e.event_id for e in seen] == [early.events[0].event_id]
        written = await store.append(late.tx, stream(), 0, [created("late")], meta())
        await late.commit()
        async with backend.read() as tx:
            after = await store.read_all(tx, after=early.position)
        assert [e.event_id for e in after] == [written.events[0].event_id]

    async def test_a_nul_character_is_refused_as_data_and_nothing_is_written(self, backend):
        store, stream_id = backend.store, stream()
        with pytest.raises(RefusedData):
            async with backend.begin() as tx:
                await store.append(tx, stream_id, 0, [created("a\x00b")], meta())
        async with backend.read() as tx:
            assert await store.read_stream(tx, stream_id) == []


class TestInMemoryStore(Contract):
    @pytest.fixture
    def backend(self, registry: EventRegistry) -> Backend:
        backend = MemoryBackend(registry)
        port: EventStore[MemoryTransaction] = backend.memory  # mypy: it implements the port
        assert port is backend.store
        return backend


class TestPostgresStore(Contract):
    @pytest.fixture
    def backend(self, db: AsyncEngine, store: PostgresEventStore) -> Backend:
        return PostgresBackend(db, store)


# PostgreSQL only ---------------------------------------------------------------


async def _collect(db, store, after: Position, count: int) -> list[RecordedEvent]:
    seen: list[RecordedEvent] = []
    async for batch in follow(db, store, after=after, batch_size=100, max_wait_seconds=0.05):
        seen.extend(batch)
        if len(seen) >= count:
            return seen
    return seen


async def test_follower_sees_every_event_of_concurrent_writers_once_in_order(db, store):
    writers, appends_each = 8, 300
    async with db.connect() as conn:
        start = await store.last_position(conn)

    async def write(n: int) -> list[str]:
        ids = []
        for i in range(appends_each):
            async with db.begin() as conn:
                # Every third append writes two events, so batches interleave too.
                events = [created(f"w{n}-{i}")] * (2 if i % 3 == 0 else 1)
                result = await store.append(conn, stream(), 0, events, meta())
            ids.extend(e.event_id for e in result.events)
        return ids

    expected_count = writers * sum(2 if i % 3 == 0 else 1 for i in range(appends_each))
    follower = asyncio.create_task(_collect(db, store, start, expected_count))
    written = await asyncio.gather(*(write(n) for n in range(writers)))
    seen = await asyncio.wait_for(follower, 60)

    written_ids = {event_id for ids in written for event_id in ids}
    seen_ids = [e.event_id for e in seen]
    assert len(seen_ids) == expected_count == len(written_ids)
    assert set(seen_ids) == written_ids
    positions = [e.position for e in seen]
    assert positions == sorted(positions)
    assert len(set(positions)) == len(positions)
    # Each writer's own appends keep their order in the global log.
    for ids in written:
        order = [seen_ids.index(event_id) for event_id in ids]
        assert order == sorted(order)


async def test_a_rolled_back_append_does_not_stall_a_follower(db, store):
    async with db.connect() as conn:
        start = await store.last_position(conn)
    doomed = await db.connect()
    doomed_tx = await doomed.begin()
    await store.append(doomed, stream(), 0, [created("doomed")], meta())
    async with db.begin() as conn:
        kept = await store.append(conn, stream(), 0, [created("kept")], meta())
    await doomed_tx.rollback()
    await doomed.close()

    seen = await asyncio.wait_for(_collect(db, store, start, 1), 10)
    assert [e.event_id for e in seen] == [kept.events[0].event_id]


async def test_follower_wakes_on_notify(db, store):
    async with db.connect() as conn:
        start = await store.last_position(conn)
    # A long fallback poll: only the notification can wake the follower in time.
    iterator = follow(db, store, after=start, max_wait_seconds=30).__aiter__()
    first = asyncio.create_task(anext(iterator))
    await asyncio.sleep(0.2)
    async with db.begin() as conn:
        result = await store.append(conn, stream(), 0, [created()], meta())
    async with db.connect() as conn:
        await store.notify(conn, result.position)
        await conn.commit()
    batch = await asyncio.wait_for(first, 5)
    await iterator.aclose()
    assert [e.event_id for e in batch] == [result.events[0].event_id]


async def test_a_read_that_opens_a_transaction_reads_inside_it(db, store):
    """Reads run on the driver; the first statement of a transaction must still begin it,
    or a REPEATABLE READ transaction would see appends made after its first read."""
    stream_id = stream()
    async with db.begin() as conn:
        await store.append(conn, stream_id, 0, [created("first")], meta())
    conn = await db.connect()
    try:
        await conn.execution_options(isolation_level="REPEATABLE READ")
        await conn.begin()
        before = await store.read_stream(conn, stream_id)
        async with db.begin() as other:
            await store.append(other, stream_id, 1, [created("second")], meta())
        again = await store.read_stream(conn, stream_id)
    finally:
        await conn.close()
    assert [e.version for e in before] == [e.version for e in again] == [1]


async def test_a_transaction_sqlalchemy_does_not_track_is_refused(db, store):
    """Appending in a transaction begun behind SQLAlchemy's back would be lost at its COMMIT."""
    stream_id = stream()
    async with db.connect() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        await driver.execute("BEGIN")
        try:
            with pytest.raises(RuntimeError, match="does not track"):
                await store.append(conn, stream_id, 0, [created()], meta())
        finally:
            await driver.execute("ROLLBACK")
    async with db.connect() as conn:
        assert await store.read_stream(conn, stream_id) == []
