"""Rebuilding projections from the log, and the projector's asynchronous ones."""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from domain.catalog import (
    ProductCreated,
    ProductDeleted,
    ProductMoved,
    ProductPriceChanged,
    ProductRenamed,
)
from domain.inventory import StockAdded
from domain.messages import DomainEvent
from eventstore import EventMetadata, Position, RecordedEvent
from observability.health import projections_check
from ops.audit import Invariant, run_audit
from ops.projections import status
from projector import ProjectionRunner, rebuild
from projector.parking import ParkedEvent, parked, retry
from read_models import ASYNC_PROJECTIONS, CATEGORIES, PRODUCTS
from read_models.price_history import PRICE_HISTORY
from read_models.projection import load_checkpoint
from tenancy import set_tenant
from tests.api.catalog_client import create_category, create_product


async def table_rows(engine, table: str) -> list[tuple[object, ...]]:
    async with engine.connect() as conn:
        result = await conn.execute(sa.text(f"SELECT * FROM read.{table} ORDER BY 1"))
        return [tuple(row) for row in result]


async def test_a_rebuild_equals_the_live_model_and_queries_keep_answering(system, engine, store):
    category = await create_category(system.gql)
    for i in range(5):
        product = await create_product(system.gql, category["id"], name=f"R{i}", price=i)
        await system.gql.data(
            "mutation($p: ID!) { addStock(input: {productId: $p, quantity: 3}) { id } }",
            {"p": product["id"]},
        )
    live_products, live_categories = (
        await table_rows(engine, "products"),
        await table_rows(engine, "categories"),
    )

    answered = []
    stop = asyncio.Event()

    async def keep_querying() -> None:
        while not stop.is_set():
            data = await system.gql.data("{ products(first: 5) { id category { name } } }")
            answered.append(len(data["products"]))
            await asyncio.sleep(0)

    reader = asyncio.create_task(keep_querying())
    await asyncio.sleep(0.05)
    # Small pages: the next page is read while the last is written.
    await rebuild(engine, store, PRODUCTS, batch_size=4)
    await rebuild(engine, store, CATEGORIES, batch_size=50)
    stop.set()
    await reader
    assert answered and all(count == 5 for count in answered)
    assert await table_rows(engine, "products") == live_products
    assert await table_rows(engine, "categories") == live_categories


async def test_writes_during_a_rebuild_land_in_the_new_tables(system, engine, store):
    category = await create_category(system.gql)
    product = await create_product(system.gql, category["id"])
    add = "mutation($p: ID!) { addStock(input: {productId: $p, quantity: 1}) { stock } }"

    async def keep_writing() -> int:
        writes = 0
        for _ in range(40):
            await system.gql.data(add, {"p": product["id"]})
            writes += 1
        return writes

    writer = asyncio.create_task(keep_writing())
    await asyncio.sleep(0.1)
    await rebuild(engine, store, PRODUCTS, batch_size=20)
    writes = await writer
    data = await system.gql.data('{ product(id: "%s") { stock } }' % product["id"])
    assert data["product"]["stock"] == writes
    live = await table_rows(engine, "products")
    await rebuild(engine, store, PRODUCTS)
    assert await table_rows(engine, "products") == live


async def _run_projector(engine, store):
    runner = ProjectionRunner(engine, store, PRICE_HISTORY, batch_size=10, poll_seconds=0.05)
    return asyncio.create_task(runner.run())


async def _wait_for_prices(system, product_id: str, expected: list[int]) -> None:
    query = '{ product(id: "%s") { priceHistory { price } } }' % product_id
    for _ in range(200):
        data = await system.gql.data(query)
        if [p["price"] for p in data["product"]["priceHistory"]] == expected:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"price history never became {expected}: {data}")


async def test_the_projector_follows_the_log_once_across_restarts(system, engine, store):
    category = await create_category(system.gql)
    product = await create_product(system.gql, category["id"], price=100)
    reprice = "mutation($p: ID!, $v: Int!) { updateProduct(id: $p, input: {price: $v}) { id } }"

    task = await _run_projector(engine, store)
    await system.gql.data(reprice, {"p": product["id"], "v": 150})
    await _wait_for_prices(system, product["id"], [100, 150])
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task

    # Changes made while it was down are caught up from the checkpoint, none twice.
    await system.gql.data(reprice, {"p": product["id"], "v": 175})
    task = await _run_projector(engine, store)
    await _wait_for_prices(system, product["id"], [100, 150, 175])

    # A second instance stands by while the first leads.
    standby = await _run_projector(engine, store)
    await system.gql.data(reprice, {"p": product["id"], "v": 180})
    await _wait_for_prices(system, product["id"], [100, 150, 175, 180])
    for running in (task, standby):
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running

    async with engine.connect() as conn:
        checkpoint = await load_checkpoint(conn, PRICE_HISTORY.name)
        last = await store.last_position(conn)
    assert checkpoint == last


async def test_rebuilding_an_asynchronous_projection_moves_its_checkpoint(system, engine, store):
    category = await create_category(system.gql)
    product = await create_product(system.gql, category["id"], price=10)
    await system.gql.data(
        "mutation($p: ID!) { updateProduct(id: $p, input: {price: 20}) { id } }",
        {"p": product["id"]},
    )
    end = await rebuild(engine, store, PRICE_HISTORY)
    await _wait_for_prices(system, product["id"], [10, 20])
    async with engine.connect() as conn:
        assert await load_checkpoint(conn, PRICE_HISTORY.name) == end


async def test_a_transaction_left_open_is_shown_holding_every_follower_back(engine, store):
    async with engine.begin() as held:
        await held.execute(sa.text("SELECT pg_current_xact_id()"))  # it may now append
        pid = await held.scalar(sa.text("SELECT pg_backend_pid()"))
        await asyncio.sleep(1.2)
        async with engine.connect() as conn:
            holder = await store.horizon_holder(conn)
        assert holder is not None and holder.pid == pid and holder.seconds >= 1
        check = projections_check(engine, store, ASYNC_PROJECTIONS, max_lag_seconds=1)
        assert f"pid {pid}" in (await check() or "")
        assert f"followers wait: a transaction of pid {pid}" in await status(engine, store)
    async with engine.connect() as conn:
        assert await store.horizon_holder(conn) is None


@contextlib.asynccontextmanager
async def poisoned_price(engine, product_id: str, price: int) -> AsyncIterator[None]:
    """While the block runs, PostgreSQL refuses that price into the price history."""
    async with engine.begin() as conn:
        await conn.execute(
            sa.text(
                "CREATE FUNCTION public.poisoned_price() RETURNS trigger LANGUAGE plpgsql AS $$ "
                "BEGIN RAISE EXCEPTION 'this price poisons the projection'; END $$"
            )
        )
        await conn.execute(
            sa.text(
                "CREATE TRIGGER poisoned_price BEFORE INSERT ON read.price_history FOR EACH ROW "
                f"WHEN (NEW.product_id = '{product_id}' AND NEW.price = {price}) "
                "EXECUTE FUNCTION public.poisoned_price()"
            )
        )
    try:
        yield
    finally:
        async with engine.begin() as conn:
            await conn.execute(sa.text("DROP TRIGGER poisoned_price ON read.price_history"))
            await conn.execute(sa.text("DROP FUNCTION public.poisoned_price()"))


async def parked_for(engine, product_id: str) -> list[ParkedEvent]:
    async with engine.connect() as conn:
        return [e for e in await parked(conn) if e.stream_id == f"product-{product_id}"]


REPRICE = "mutation($p: ID!, $v: Int!) { updateProduct(id: $p, input: {price: $v}) { id } }"


async def test_an_event_a_projection_cannot_apply_is_parked_then_retried(system, engine, store):
    category = await create_category(system.gql)
    product = await create_product(system.gql, category["id"], price=100)
    task = await _run_projector(engine, store)
    try:
        async with poisoned_price(engine, product["id"], 150):
            for price in (150, 175):
                await system.gql.data(REPRICE, {"p": product["id"], "v": price})
            # The projection goes on past the event it cannot apply.
            await _wait_for_prices(system, product["id"], [100, 175])
            [entry] = await parked_for(engine, product["id"])
            assert entry.projection == "price_history" and "poisons" in entry.error
            shown = await status(engine, store)
            row = r"^price_history\s+projector\s+\S+\s+\d+\s+\S+\s+1$"
            assert re.search(row, shown, re.M), shown
            assert "shop projections retry NAME" in shown
            report = await run_audit(
                engine,
                store,
                temporal=None,
                ledger=None,
                stalled_after_seconds=300,
                max_lag_seconds=3600,
            )
            assert any(
                f.invariant is Invariant.PROJECTIONS
                and f.subject == "price_history (parked)"
                and str(entry.position) in f.problem
                for f in report.findings
            ), report.as_text()
            # Still poisoned: a retry leaves it parked, counting the attempt.
            assert await retry(engine, store, PRICE_HISTORY) == (0, 1)
            [again] = await parked_for(engine, product["id"])
            assert again.attempts == 2
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    # After the fix, the parked event is applied in its place in the log.
    assert await retry(engine, store, PRICE_HISTORY) == (1, 0)
    await _wait_for_prices(system, product["id"], [100, 150, 175])
    assert await parked_for(engine, product["id"]) == []


async def test_a_rebuild_after_the_fix_forgets_the_parked_events(system, engine, store):
    category = await create_category(system.gql)
    product = await create_product(system.gql, category["id"], price=100)
    task = await _run_projector(engine, store)
    try:
        async with poisoned_price(engine, product["id"], 120):
            await system.gql.data(REPRICE, {"p": product["id"], "v": 120})
            await system.gql.data(REPRICE, {"p": product["id"], "v": 130})
            await _wait_for_prices(system, product["id"], [100, 130])
            assert len(await parked_for(engine, product["id"])) == 1
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await rebuild(engine, store, PRICE_HISTORY)
    await _wait_for_prices(system, product["id"], [100, 120, 130])
    assert await parked_for(engine, product["id"]) == []


def _recorded(event: DomainEvent, sequence: int) -> RecordedEvent:
    meta = EventMetadata(command_id="c", correlation_id="c", causation_id="c", tenant_id="t-page")
    at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=sequence)
    return RecordedEvent(Position(1, sequence), "s", sequence, str(sequence), event, meta, at)


def _random_product_history(seed: int) -> list[RecordedEvent]:
    """Creates, edits, stock moves and deletes of a few products, interleaved."""
    chance = random.Random(seed)
    live: list[str] = []
    events: list[DomainEvent] = []
    for step in range(120):
        roll = chance.random()
        if roll < 0.15 or not live:
            product = f"p-{seed}-{step}"
            live.append(product)
            events.append(
                ProductCreated(product_id=product, name=product, price=1, category_id="c")
            )
            continue
        product = chance.choice(live)
        if roll < 0.3:
            events.append(ProductRenamed(product_id=product, name=f"n{step}"))
        elif roll < 0.45:
            events.append(ProductPriceChanged(product_id=product, price=step))
        elif roll < 0.55:
            events.append(
                ProductMoved(product_id=product, from_category_id="c", to_category_id=f"c{step}")
            )
        elif roll < 0.9:
            events.append(StockAdded(product_id=product, quantity=1, level=step))
        else:
            live.remove(product)
            events.append(ProductDeleted(product_id=product, category_id="c"))
    return [_recorded(event, i + 1) for i, event in enumerate(events)]


async def test_a_page_applied_at_once_leaves_the_rows_that_one_event_at_a_time_leaves(engine):
    for seed in range(5):
        history = _random_product_history(seed)
        results = []
        for at_once in (False, True):
            async with engine.connect() as conn, conn.begin() as transaction:
                await set_tenant(conn, "t-page")
                if at_once:
                    for start in range(0, len(history), 40):  # pages, as a rebuild reads them
                        await PRODUCTS.apply_page_as_tenants(conn, history[start : start + 40])
                else:
                    for event in history:
                        await PRODUCTS.apply(conn, event)
                rows = await conn.execute(
                    sa.text("SELECT * FROM read.products WHERE tenant_id = 't-page' ORDER BY id")
                )
                results.append([tuple(row) for row in rows])
                await transaction.rollback()
        assert results[0] == results[1]
        assert results[0], "the history leaves some products"
