"""Event store benchmarks: appends, catch-up reads, follower latency.

Longer than our usual module: each benchmark sits beside the bare baseline it is
measured against, so the two can be compared line by line.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.harness import Result, per_second, percentile
from bench.progress import repetitions
from domain.catalog import ProductCreated
from domain.registry import ALL_EVENTS
from eventstore import EventMetadata, EventRegistry
from eventstore.follower import follow
from eventstore.listener import NOTIFY_CHANNEL
from eventstore.postgres import PostgresEventStore
from eventstore.records import START

# The physical limit: the same rows, the same keys, written by bare asyncpg.
BARE_TABLE = """
CREATE TABLE IF NOT EXISTS bench_bare_events (
    position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
    stream_id text NOT NULL,
    version int NOT NULL,
    event_id uuid NOT NULL UNIQUE,
    event_type text NOT NULL,
    event_version smallint NOT NULL,
    data jsonb NOT NULL,
    metadata jsonb NOT NULL,
    correlation_id text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (stream_id, version)
);
CREATE INDEX IF NOT EXISTS bench_bare_order ON bench_bare_events (transaction_id, position);
"""
BARE_INSERT = """
INSERT INTO bench_bare_events
    (stream_id, version, event_id, event_type, event_version, data, metadata, correlation_id)
SELECT $1, v, e, 'ProductCreated', 1, d::jsonb, $3::jsonb, $4
FROM unnest($5::int[], $6::uuid[], $2::text[]) AS t(v, e, d)
"""


@dataclass
class Storage:
    url: str
    engine: AsyncEngine
    store: PostgresEventStore
    pool: asyncpg.Pool

    @property
    def dsn(self) -> str:
        return asyncpg_dsn(self.url)


def asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


TOPIC = "domain.catalog:ProductCreated"
"""The peer's name for the event class it stores (`eventsourcing.utils.get_topic`)."""


def _event(i: int) -> ProductCreated:
    """A product event with a product id of its own, so that a rebuild can replay it."""
    return ProductCreated(
        product_id=str(uuid.uuid4()), name=f"Product {i}", price=100 + i, category_id="c1"
    )


def _events(commands: int, batch: int) -> list[list[ProductCreated]]:
    """Made before the clock starts: the benchmark measures storing, not building."""
    return [[_event(i) for i in range(batch)] for _ in range(commands)]


def _meta() -> EventMetadata:
    command_id = str(uuid.uuid4())
    return EventMetadata(command_id=command_id, correlation_id=command_id, causation_id=command_id)


async def _ours_append(
    storage: Storage, commands: int, batch: int
) -> Callable[[int], Awaitable[None]]:
    events = _events(commands, batch)

    async def one(i: int) -> None:
        async with storage.engine.begin() as conn:
            await storage.store.append(conn, f"bench-{uuid.uuid4()}", 0, events[i], _meta())

    return one


async def _bare_append(
    storage: Storage, commands: int, batch: int
) -> Callable[[int], Awaitable[None]]:
    """The same rows as ours, each event with its own payload, JSON-encoded before the clock."""
    payloads = [
        [event.model_dump_json() for event in command] for command in _events(commands, batch)
    ]
    meta = _meta().model_dump_json()

    async def one(i: int) -> None:
        await storage.pool.execute(
            BARE_INSERT,
            f"bench-{uuid.uuid4()}",
            payloads[i % commands],
            meta,
            "bench",
            list(range(1, batch + 1)),
            [uuid.uuid4() for _ in range(batch)],
        )

    return one


def _peer_recorder(storage: Storage, pool_size: int) -> Any:
    from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore

    url = make_url(storage.url)
    datastore = PostgresDatastore(
        dbname=url.database or "",
        host=str(url.query.get("host") or url.host),
        port=url.port or 5432,
        user=url.username or "postgres",
        password=url.password or "",
        pool_size=pool_size,
        max_overflow=pool_size,
    )
    recorder = PostgresApplicationRecorder(datastore, events_table_name="bench_peer_events")
    recorder.create_table()
    return recorder


def _peer_append(recorder: Any, total: int, threads: int, batch: int) -> float:
    from eventsourcing.persistence import StoredEvent

    state = _event(0).model_dump_json().encode()

    def one(_: int) -> None:
        originator = uuid.uuid4()
        recorder.insert_events(
            [
                StoredEvent(
                    originator_id=originator, originator_version=v, topic=TOPIC, state=state
                )
                for v in range(1, batch + 1)
            ]
        )

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, range(total)))
    return total * batch / (time.perf_counter() - started)


async def append_benchmarks(storage: Storage, *, quick: bool, repeat: int) -> list[Result]:
    await storage.pool.execute(BARE_TABLE)
    commands = 200 if quick else 3000
    results = []
    recorder = _peer_recorder(storage, pool_size=32)
    for writers in (1, 8, 32):
        bare_one = await _bare_append(storage, commands, 1)
        await per_second(20, writers, await _ours_append(storage, 20, 1))  # warm-up
        await per_second(20, writers, bare_one)
        ours, bare, peer = [], [], []
        for _ in repetitions(f"{writers} writer{'s' * (writers > 1)}", repeat):
            ours_one = await _ours_append(storage, commands, 1)
            ours.append(await per_second(commands, writers, ours_one))
            bare.append(await per_second(commands, writers, bare_one))
            if writers <= 8:
                peer.append(await asyncio.to_thread(_peer_append, recorder, commands, writers, 1))
        results.append(
            Result(
                workload=f"append, 1 event/command, {writers} writer{'s' * (writers > 1)}",
                unit="events/s",
                higher_is_better=True,
                ours=ours,
                baseline=bare,
                baseline_name="bare INSERT",
                target=0.6 if writers == 8 else None,
                peer=peer,
                peer_name="eventsourcing" if peer else "",
            )
        )
    batches = 10 if quick else 100
    bare_batch = await _bare_append(storage, batches, 100)
    ours, bare, peer = [], [], []
    for _ in repetitions("100 events/command", repeat):
        ours_batch = await _ours_append(storage, batches, 100)
        ours.append(100 * await per_second(batches, 1, ours_batch))
        bare.append(100 * await per_second(batches, 1, bare_batch))
        peer.append(await asyncio.to_thread(_peer_append, recorder, batches, 1, 100))
    results.append(
        Result(
            workload="append, 100 events/command, 1 writer",
            unit="events/s",
            higher_is_better=True,
            ours=ours,
            baseline=bare,
            baseline_name="bare multi-row INSERT",
            target=0.8,
            peer=peer,
            peer_name="eventsourcing",
        )
    )
    recorder.datastore.close()  # its pool holds a connection per writer thread
    return results


async def seed(storage: Storage, count: int) -> None:
    """`count` product events in our store and the same rows in the peer's table."""
    recorder = _peer_recorder(storage, pool_size=4)
    from eventsourcing.persistence import StoredEvent

    for start in range(0, count, 500):
        size = min(500, count - start)
        events = [_event(start + i) for i in range(size)]
        async with storage.engine.begin() as conn:
            await storage.store.append(conn, f"seed-{uuid.uuid4()}", 0, events, _meta())
        originator = uuid.uuid4()
        state = events[0].model_dump_json().encode()
        await asyncio.to_thread(
            recorder.insert_events,
            [
                StoredEvent(
                    originator_id=originator, originator_version=v, topic=TOPIC, state=state
                )
                for v in range(1, size + 1)
            ],
        )
    recorder.datastore.close()


async def _ours_read(storage: Storage) -> tuple[int, float]:
    count, after = 0, START
    started = time.perf_counter()
    while True:
        async with storage.engine.connect() as conn:
            batch = await storage.store.read_all(conn, after=after, limit=1000)
        if not batch:
            return count, count / (time.perf_counter() - started)
        count += len(batch)
        after = batch[-1].position


async def _bare_read(storage: Storage) -> float:
    registry = EventRegistry(ALL_EVENTS)
    count, after = 0, (0, 0)
    started = time.perf_counter()
    async with storage.pool.acquire() as conn:
        while True:
            rows = await conn.fetch(
                "SELECT transaction_id, position, stream_id, version, event_type, event_version,"
                " data::text AS data, metadata::text AS metadata, recorded_at"
                " FROM eventstore.events"
                " WHERE (transaction_id, position) > ($1::text::xid8, $2)"
                " ORDER BY transaction_id, position LIMIT 1000",
                str(after[0]),
                after[1],
            )
            if not rows:
                return count / (time.perf_counter() - started)
            page = [
                (
                    registry.decode_json(row["event_type"], row["event_version"], row["data"]),
                    EventMetadata.model_validate_json(row["metadata"]),
                )
                for row in rows
            ]
            count += len(page)
            after = (rows[-1]["transaction_id"], rows[-1]["position"])


def _peer_mapper() -> Any:
    """The peer's own way back to domain objects: its `Mapper`, its JSON transcoder,
    and pydantic for the event class its topic names (as the library's pydantic
    examples do), so that it decodes as much as we do."""
    from eventsourcing.persistence import JSONTranscoder, Mapper
    from eventsourcing.utils import resolve_topic

    class PydanticMapper(Mapper[Any]):
        def to_domain_event(self, stored_event: Any) -> Any:
            state = self.transcoder.decode(stored_event.state)
            return resolve_topic(stored_event.topic).model_validate(state)

    return PydanticMapper(JSONTranscoder())


def _peer_read(recorder: Any) -> float:
    mapper = _peer_mapper()
    count, start = 0, 1
    started = time.perf_counter()
    while True:
        notifications = recorder.select_notifications(start=start, limit=1000)
        if not notifications:
            return count / (time.perf_counter() - started)
        page = [mapper.to_domain_event(n) for n in notifications]
        count += len(page)
        start = notifications[-1].id + 1


async def read_benchmarks(storage: Storage, *, quick: bool, repeat: int) -> list[Result]:
    from projector.rebuild import rebuild
    from read_models.catalog import PRODUCTS

    count = 5_000 if quick else 100_000
    await seed(storage, count)
    recorder = _peer_recorder(storage, pool_size=1)
    await _ours_read(storage)  # warm-up
    ours, bare, peer, rebuilds = [], [], [], []
    total = 0
    for _ in repetitions(f"catch-up read and rebuild of {count:,} events", repeat):
        total, rate = await _ours_read(storage)
        ours.append(rate)
        bare.append(await _bare_read(storage))
        peer.append(await asyncio.to_thread(_peer_read, recorder))
        started = time.perf_counter()
        await rebuild(storage.engine, storage.store, PRODUCTS, batch_size=1000)
        rebuilds.append(total / (time.perf_counter() - started))
    recorder.datastore.close()
    return [
        Result(
            workload=f"catch-up read_all, {total:,} events",
            unit="events/s",
            higher_is_better=True,
            ours=ours,
            baseline=bare,
            baseline_name="bare keyset SELECT",
            target=0.6,
            peer=peer,
            peer_name="eventsourcing reader",
            notes="each side decodes every payload into its event class (ours and the "
            "baseline also its metadata) and keeps the page, as a reader must; the peer "
            "through its own `Mapper` and `JSONTranscoder`, from a table without metadata.",
        ),
        Result(
            workload="rebuild of the products projection",
            unit="events/s",
            higher_is_better=True,
            ours=rebuilds,
            baseline=ours,
            baseline_name="read_all alone",
            target=0.5,
            notes="replays every event in the log into shadow tables, each page of 1,000 "
            "folded and written in a few statements (one multi-row INSERT here).",
        ),
    ]


async def follower_benchmark(storage: Storage, *, quick: bool, repeat: int) -> list[Result]:
    samples = 50 if quick else 500
    ours_p50, ours_p99, bare_p50 = [], [], []
    for _ in repetitions(f"{samples} commits", repeat):
        latencies = await _follower_latencies(storage, samples)
        ours_p50.append(statistics.median(latencies))
        ours_p99.append(percentile(latencies, 0.99))
        bare_p50.append(statistics.median(await _notify_round_trips(storage, samples)))
    return [
        Result(
            workload="follower latency, commit → applied",
            unit="ms (p50)",
            higher_is_better=False,
            ours=ours_p50,
            baseline=bare_p50,
            baseline_name="bare NOTIFY round trip",
            notes=f"p99 {statistics.median(ours_p99):.2f} ms. The follower reads the log after "
            "each wake-up; that read is the difference.",
        )
    ]


async def _follower_latencies(storage: Storage, samples: int) -> list[float]:
    async with storage.engine.connect() as conn:
        after = await storage.store.last_position(conn)
    committed: dict[str, float] = {}
    latencies: list[float] = []
    done = asyncio.Event()

    async def follower() -> None:
        async for batch in follow(storage.engine, storage.store, after=after, max_wait_seconds=1.0):
            now = time.perf_counter()
            for event in batch:
                if event.event_id in committed:
                    latencies.append((now - committed[event.event_id]) * 1000)
            if len(latencies) >= samples:
                done.set()
                return

    task = asyncio.create_task(follower())
    await asyncio.sleep(0.2)
    for i in range(samples):
        async with storage.engine.begin() as conn:
            result = await storage.store.append(conn, f"f-{uuid.uuid4()}", 0, [_event(i)], _meta())
        committed[result.events[0].event_id] = time.perf_counter()
        async with storage.engine.connect() as conn:
            await storage.store.notify(conn, result.position)
            await conn.commit()
        await asyncio.sleep(0.002)
    await asyncio.wait_for(done.wait(), 30)
    await task
    return latencies


async def _notify_round_trips(storage: Storage, samples: int) -> list[float]:
    listener = await asyncpg.connect(storage.dsn)
    sender = await asyncpg.connect(storage.dsn)
    received = asyncio.Queue[float]()
    await listener.add_listener(
        NOTIFY_CHANNEL + "_bench", lambda *_: received.put_nowait(time.perf_counter())
    )
    latencies = []
    try:
        for _ in range(samples):
            sent = time.perf_counter()
            await sender.execute(f"SELECT pg_notify('{NOTIFY_CHANNEL}_bench', '')")
            latencies.append((await asyncio.wait_for(received.get(), 5) - sent) * 1000)
    finally:
        await listener.close()
        await sender.close()
    return latencies
