"""Stock reservations on a long stream against a short one: what snapshots buy.

A product's stock stream grows with every order of it. Each reservation loads
the stock from its latest snapshot and the events after it, so its cost
should not grow with the stream.
"""

from __future__ import annotations

import statistics
import time
import uuid
from typing import Any, ClassVar

from activities.handlers.unit_of_work import UnitOfWork, run_in_unit_of_work
from bench.harness import Result, percentile
from bench.progress import repetitions
from bench.storage import Storage
from domain.inventory import (
    ReserveStock,
    SettleStock,
    StockAdded,
    StockItem,
    StockReserved,
    StockSettled,
)
from domain.messages import DomainEvent
from eventstore import EventMetadata
from tenancy import set_tenant

LONG, SHORT = 10_000, 10
TENANT = "bench"


class Unsnapshotted(StockItem):
    """The same stock, folded from its whole stream: the figure before snapshots."""

    snapshots: ClassVar[Any] = None


def _metadata() -> EventMetadata:
    command_id = str(uuid.uuid4())
    return EventMetadata(
        command_id=command_id, correlation_id=command_id, causation_id=command_id, tenant_id=TENANT
    )


def _history(product: str, length: int) -> list[DomainEvent]:
    """Stock added, then orders reserved and settled, as a shop's past leaves it."""
    level = 1_000_000
    events: list[DomainEvent] = [StockAdded(product_id=product, quantity=level, level=level)]
    while len(events) + 2 <= length:
        order = str(uuid.uuid4())
        level -= 1
        events.append(StockReserved(product_id=product, order_id=order, quantity=1, level=level))
        events.append(StockSettled(product_id=product, order_id=order, quantity=1, level=level))
    return events


async def _stock_stream(storage: Storage, length: int) -> str:
    product = str(uuid.uuid4())
    history = _history(product, length)
    for start in range(0, len(history), 1000):
        async with storage.engine.begin() as conn:
            await set_tenant(conn, TENANT)
            await storage.store.append(
                conn,
                StockItem.stream_id(product),
                start,
                history[start : start + 1000],
                _metadata(),
            )
    return product


async def _command(storage: Storage, aggregate: Any, command: Any) -> float:
    """Run one stock command as the saga's activities do; milliseconds."""

    async def handle(uow: UnitOfWork[Any]) -> None:
        await uow.lock(StockItem.stream_id(command.product_id))
        await uow.decide(aggregate, StockItem.stream_id(command.product_id), command)

    started = time.perf_counter()
    await run_in_unit_of_work(
        storage.engine, storage.store, _metadata(), [], handle, conflict_retries=3
    )
    return (time.perf_counter() - started) * 1000


async def _reservations(
    storage: Storage, products: dict[int, str], samples: int, aggregate: Any = StockItem
) -> dict[int, list[float]]:
    """Reserve-and-settle on each stream in turn; the reservations' latencies."""
    latencies: dict[int, list[float]] = {length: [] for length in products}
    for _ in range(samples):
        for length, product in products.items():
            order = str(uuid.uuid4())
            reserve = ReserveStock(product_id=product, order_id=order, quantity=1)
            latencies[length].append(await _command(storage, aggregate, reserve))
            await _command(storage, aggregate, SettleStock(product_id=product, order_id=order))
    return latencies


async def snapshot_benchmark(storage: Storage, *, quick: bool, repeat: int) -> list[Result]:
    samples = 30 if quick else 200
    products = {
        LONG: await _stock_stream(storage, LONG),
        SHORT: await _stock_stream(storage, SHORT),
    }
    await _reservations(storage, products, 5)  # warm-up; writes the long stream's snapshot
    long_p50, short_p50, long_p99 = [], [], []
    for _ in repetitions(f"{samples} reservations", repeat):
        latencies = await _reservations(storage, products, samples)
        long_p50.append(statistics.median(latencies[LONG]))
        long_p99.append(percentile(latencies[LONG], 0.99))
        short_p50.append(statistics.median(latencies[SHORT]))
    unsnapshotted = await _reservations(storage, {LONG: products[LONG]}, 5, Unsnapshotted)
    return [
        Result(
            workload=f"stock reservation, stream of {LONG:,} events",
            unit="ms (p50)",
            higher_is_better=False,
            ours=long_p50,
            baseline=short_p50,
            baseline_name=f"the same on a stream of {SHORT} events",
            target=round(1 / 1.2, 2),
            notes=f"p99 {statistics.median(long_p99):.2f} ms (a snapshot is written every "
            f"{StockItem.snapshots.every} events). Folding the whole stream instead, without "
            f"its snapshot: p50 {statistics.median(unsnapshotted[LONG]):.1f} ms.",
        )
    ]
