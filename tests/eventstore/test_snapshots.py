"""Snapshots: a cache of an aggregate's state that loads the same state as its events."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.handlers.unit_of_work import UnitOfWork, load_aggregate, run_in_unit_of_work
from database import create_engine
from devstack.servers import with_user
from domain.errors import DomainError
from domain.inventory import (
    AddStock,
    ReleaseStock,
    ReserveStock,
    SettleStock,
    StockItem,
    StockState,
)
from domain.snapshots import SnapshotPolicy
from eventstore import EventMetadata, Snapshot
from eventstore.postgres import PostgresEventStore
from tenancy import APP_ROLE, acting_for, set_tenant


class EveryFifthEvent(StockItem):
    """Stock, snapshotted often enough for a test to cross several snapshots."""

    snapshots: ClassVar[SnapshotPolicy[StockState]] = SnapshotPolicy(
        StockState, schema_version=1, every=5
    )


class NeverSnapshotted(StockItem):
    """Stock folded from every event: what a snapshot must always agree with."""

    snapshots: ClassVar[Any] = None


class CountingStore(PostgresEventStore):
    """Remembers where each stream read started."""

    read_from: ClassVar[list[int]] = []

    async def read_stream(self, conn: Any, stream_id: str, *, from_version: int = 1) -> Any:
        self.read_from.append(from_version)
        return await super().read_stream(conn, stream_id, from_version=from_version)


@pytest.fixture
def counting_store(registry) -> CountingStore:
    CountingStore.read_from = []
    return CountingStore(registry)


def metadata(tenant: str = "t-snap") -> EventMetadata:
    command_id = str(uuid.uuid4())
    return EventMetadata(
        command_id=command_id, correlation_id=command_id, causation_id=command_id, tenant_id=tenant
    )


async def run(
    engine: AsyncEngine, store: Any, stream_id: str, command: Any, aggregate: Any
) -> None:
    async def handle(uow: UnitOfWork[Any]) -> None:
        await uow.decide(aggregate, stream_id, command)

    await run_in_unit_of_work(engine, store, metadata(), [], handle, conflict_retries=0)


async def load(engine: AsyncEngine, store: Any, aggregate: Any, stream_id: str) -> Any:
    async with engine.begin() as conn:
        await set_tenant(conn, "t-snap")
        return await load_aggregate(conn, store, aggregate, stream_id)


async def stored_snapshot(
    engine: AsyncEngine, store: PostgresEventStore, stream_id: str
) -> Snapshot | None:
    async with engine.begin() as conn:
        await set_tenant(conn, "t-snap")
        return await store.read_snapshot(conn, stream_id)


async def random_stock_history(engine: AsyncEngine, store: Any, product: str, steps: int) -> None:
    """Stock added, reserved, released and settled in a random order (seeded)."""
    stream_id = StockItem.stream_id(product)
    chance = random.Random(steps)
    await run(engine, store, stream_id, AddStock(product_id=product, quantity=50), EveryFifthEvent)
    open_orders: list[str] = []
    for _ in range(steps):
        roll = chance.random()
        if roll < 0.5 or not open_orders:
            order = str(uuid.uuid4())
            command: Any = ReserveStock(
                product_id=product, order_id=order, quantity=chance.randint(1, 3)
            )
            open_orders.append(order)
        else:
            order = open_orders.pop(chance.randrange(len(open_orders)))
            kind = ReleaseStock if roll < 0.75 else SettleStock
            command = kind(product_id=product, order_id=order)
        try:
            await run(engine, store, stream_id, command, EveryFifthEvent)
        except DomainError:  # out of stock: top it up instead
            await run(
                engine, store, stream_id, AddStock(product_id=product, quantity=50), EveryFifthEvent
            )


async def test_a_stream_loads_the_same_state_from_its_snapshot_as_from_its_events(
    engine, counting_store
):
    product = str(uuid.uuid4())
    stream_id = StockItem.stream_id(product)
    with acting_for("t-snap"):
        await random_stock_history(engine, counting_store, product, steps=37)
    snapshot = await stored_snapshot(engine, counting_store, stream_id)
    from_events, version = await load(engine, counting_store, NeverSnapshotted, stream_id)
    assert snapshot is not None and version - 5 < snapshot.version <= version
    CountingStore.read_from.clear()
    from_snapshot, same_version = await load(engine, counting_store, EveryFifthEvent, stream_id)
    assert (from_snapshot, same_version) == (from_events, version)
    assert CountingStore.read_from == [snapshot.version + 1], "only the events after it are read"


async def test_reservations_settled_or_released_leave_the_state(engine, store):
    product = str(uuid.uuid4())
    stream_id = StockItem.stream_id(product)
    orders = [str(uuid.uuid4()) for _ in range(3)]
    with acting_for("t-snap"):
        await run(engine, store, stream_id, AddStock(product_id=product, quantity=9), StockItem)
        for order in orders:
            reserve = ReserveStock(product_id=product, order_id=order, quantity=2)
            await run(engine, store, stream_id, reserve, StockItem)
        await run(
            engine, store, stream_id, SettleStock(product_id=product, order_id=orders[0]), StockItem
        )
        await run(
            engine,
            store,
            stream_id,
            ReleaseStock(product_id=product, order_id=orders[1]),
            StockItem,
        )
    state, _ = await load(engine, store, StockItem, stream_id)
    assert state == StockState(on_hand=5, reservations={orders[2]: 2})


@pytest.mark.parametrize(
    ("schema_version", "state"),
    [(99, '{"on_hand": 1000, "reservations": {}}'), (1, '{"on_hand": "plenty"}')],
    ids=["another schema version", "a state that no longer validates"],
)
async def test_a_snapshot_that_cannot_be_used_is_ignored_and_replaced(
    engine, counting_store, schema_version, state
):
    product = str(uuid.uuid4())
    stream_id = StockItem.stream_id(product)
    with acting_for("t-snap"):
        await run(
            engine, counting_store, stream_id, AddStock(product_id=product, quantity=3), StockItem
        )
    async with engine.begin() as conn:
        await set_tenant(conn, "t-snap")
        await counting_store.save_snapshot(conn, Snapshot(stream_id, 1, schema_version, state))
    loaded, version = await load(engine, counting_store, EveryFifthEvent, stream_id)
    assert (loaded, version) == (StockState(on_hand=3), 1)
    with acting_for("t-snap"):
        for _ in range(5):
            add = AddStock(product_id=product, quantity=1)
            await run(engine, counting_store, stream_id, add, EveryFifthEvent)
    replaced = await stored_snapshot(engine, counting_store, stream_id)
    # Written at the fifth event counted from nothing, as if there had been no snapshot.
    assert replaced is not None and (replaced.version, replaced.schema_version) == (5, 1)
    assert StockState.model_validate_json(replaced.state) == StockState(on_hand=7)


async def test_an_older_snapshot_never_replaces_a_newer_one(engine, store):
    stream_id = f"stock-{uuid.uuid4()}"
    async with engine.begin() as conn:
        await set_tenant(conn, "t-snap")
        await store.save_snapshot(conn, Snapshot(stream_id, 10, 1, '{"on_hand": 10}'))
        await store.save_snapshot(conn, Snapshot(stream_id, 5, 1, '{"on_hand": 5}'))
    assert await stored_snapshot(engine, store, stream_id) == Snapshot(
        stream_id, 10, 1, '{"on_hand": 10}'
    )


@pytest.fixture
async def app_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    app = create_engine(with_user(database_url, APP_ROLE))
    yield app
    await app.dispose()


async def test_another_tenant_never_reads_a_snapshot(app_engine, store):
    stream_id = f"stock-{uuid.uuid4()}"
    async with app_engine.begin() as conn:
        await set_tenant(conn, "t-snap")
        await store.save_snapshot(conn, Snapshot(stream_id, 3, 1, '{"on_hand": 3}'))
    async with app_engine.begin() as conn:
        await set_tenant(conn, "t-other")
        assert await store.read_snapshot(conn, stream_id) is None
    async with app_engine.begin() as conn:
        await set_tenant(conn, "t-snap")
        assert await store.read_snapshot(conn, stream_id) is not None
