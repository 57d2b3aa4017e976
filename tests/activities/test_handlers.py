"""Command handlers on the event store in memory: what each records, with no server.

A story per test: given what earlier commands recorded, when a handler runs in
a unit of work, then these streams hold these events (or the command is
refused and nothing is written). The same handlers run on PostgreSQL in the
end-to-end tests; here they run in milliseconds.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import pytest

from activities.handlers import COMMAND_HANDLERS
from activities.handlers import order_saga as saga
from activities.handlers.unit_of_work import UnitOfWork
from domain.catalog import (
    CategoryCreated,
    CategoryNameClaimed,
    CategoryNameReleased,
    CategoryRenamed,
    CreateCategory,
    CreateProduct,
    ProductAddedToCategory,
    ProductRemovedFromCategory,
    RenameCategory,
    UpdateProduct,
)
from domain.errors import Conflict, NotFound
from domain.inventory import AddStock, OutOfStock, StockItem, StockReserved
from domain.messages import Command, DomainEvent
from domain.orders import Order, OrderItem, OrderStockReserved, PlaceOrder
from eventstore import EventMetadata, EventRegistry
from eventstore.memory import InMemoryEventStore

TENANT = "t1"


@pytest.fixture
def store(registry: EventRegistry) -> InMemoryEventStore:
    return InMemoryEventStore(registry)


async def record(
    store: InMemoryEventStore, handler: Callable[[UnitOfWork[Any]], Awaitable[None]]
) -> None:
    """Run `handler` in a unit of work of its own command, and commit it."""
    command_id = str(uuid.uuid4())
    metadata = EventMetadata(
        command_id=command_id, correlation_id=command_id, causation_id=command_id, tenant_id=TENANT
    )
    async with store.transaction(TENANT) as tx:
        uow = UnitOfWork(tx, store, metadata, projections=())
        await handler(uow)
        await uow.commit()


async def send(store: InMemoryEventStore, command: Command) -> None:
    """What `execute_command` does with a command the API sent, on this store."""
    handler = COMMAND_HANDLERS[type(command)]
    await record(store, lambda uow: handler(uow, command))


async def stream(store: InMemoryEventStore, stream_id: str) -> list[DomainEvent]:
    async with store.transaction(TENANT) as tx:
        return [recorded.event for recorded in await store.read_stream(tx, stream_id)]


async def test_creating_a_category_claims_its_name_and_creates_it(store):
    await send(store, CreateCategory(category_id="c1", name="Books"))

    assert await stream(store, "category-c1") == [CategoryCreated(category_id="c1", name="Books")]
    claims = await stream(store, "category-name-books")
    assert claims == [CategoryNameClaimed(name="Books", category_id="c1")]


async def test_a_name_held_by_another_category_is_refused_and_nothing_is_written(store):
    await send(store, CreateCategory(category_id="c1", name="Books"))

    with pytest.raises(Conflict):
        await send(store, CreateCategory(category_id="c2", name="BOOKS"))
    assert await stream(store, "category-c2") == []


async def test_renaming_releases_the_old_name_for_another_category(store):
    await send(store, CreateCategory(category_id="c1", name="Books"))
    await send(store, RenameCategory(category_id="c1", name="Novels"))
    await send(store, CreateCategory(category_id="c2", name="Books"))

    assert (await stream(store, "category-c1"))[-1] == CategoryRenamed(
        category_id="c1", name="Novels"
    )
    assert await stream(store, "category-name-books") == [
        CategoryNameClaimed(name="Books", category_id="c1"),
        CategoryNameReleased(name="Books", category_id="c1"),
        CategoryNameClaimed(name="Books", category_id="c2"),
    ]


async def test_moving_a_product_detaches_it_from_one_category_and_attaches_it_to_the_other(
    store,
):
    await send(store, CreateCategory(category_id="c1", name="Books"))
    await send(store, CreateCategory(category_id="c2", name="Music"))
    await send(store, CreateProduct(product_id="p1", name="Atlas", price=100, category_id="c1"))
    await send(store, UpdateProduct(product_id="p1", category_id="c2"))

    assert (await stream(store, "category-c1"))[1:] == [
        ProductAddedToCategory(category_id="c1", product_id="p1"),
        ProductRemovedFromCategory(category_id="c1", product_id="p1"),
    ]
    assert (await stream(store, "category-c2"))[1:] == [
        ProductAddedToCategory(category_id="c2", product_id="p1")
    ]


async def test_stock_is_added_only_to_a_product_that_exists(store):
    with pytest.raises(NotFound) as refused:
        await send(store, AddStock(product_id="nothing", quantity=5))
    assert refused.value.field == "productId"
    assert await stream(store, StockItem.stream_id("nothing")) == []


async def test_an_order_reserves_every_line_or_none(store):
    await send(store, CreateCategory(category_id="c1", name="Books"))
    for product in ("p1", "p2"):
        await send(
            store, CreateProduct(product_id=product, name=product, price=100, category_id="c1")
        )
        await send(store, AddStock(product_id=product, quantity=2))
    items = [OrderItem(product_id="p1", product_name="p1", quantity=1, price=100)]
    for order_id in ("o1", "o2"):
        place = PlaceOrder(order_id=order_id, user_id="u1", items=items)
        await record(store, partial(saga.record_progress, command=place))

    await record(store, lambda uow: saga.reserve_stock(uow, "o1", {"p1": 1, "p2": 2}))
    with pytest.raises(OutOfStock):
        await record(store, lambda uow: saga.reserve_stock(uow, "o2", {"p1": 1, "p2": 1}))

    reserved = [e for e in await stream(store, StockItem.stream_id("p1"))][1:]
    assert reserved == [StockReserved(product_id="p1", order_id="o1", quantity=1, level=1)]
    assert (await stream(store, Order.stream_id("o1")))[-1] == OrderStockReserved(order_id="o1")
    assert len(await stream(store, Order.stream_id("o2"))) == 1  # placed, and nothing more
