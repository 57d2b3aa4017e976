"""The read cache: catalog answers served without GraphQL execution, never stale to
the client that wrote, dropped when another process writes, never shared across tenants
or with a refused token."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest
from graphql import parse
from pydantic_core import to_json

from activities.handlers.unit_of_work import UnitOfWork, run_in_unit_of_work
from api.guards.read_cache import Kind, ReadCache, kind_of
from domain.inventory import AddStock, StockItem
from eventstore import EventMetadata
from read_models import INLINE_PROJECTIONS
from tests.api.catalog_client import create_category, create_product
from tests.conftest import sql_statements, token

PRODUCT = "query($id: ID!) { product(id: $id) { id name price stock } }"
UPDATE_PRICE = (
    "mutation($id: ID!, $p: Int!) { updateProduct(id: $id, input: {price: $p}) { id price } }"
)


# The cache itself ---------------------------------------------------------------------


def key(tenant: str = "t1", query: str = "{ products { id } }") -> tuple[str, str, str]:
    return ReadCache.key(tenant, "anonymous", query, None, {})


def test_an_answer_that_raced_a_write_is_not_kept():
    cache = ReadCache(entries=10, seconds=60)
    began = cache.generation("t1")
    cache.invalidate("t1")  # a write committed while the query ran
    assert not cache.put(key(), began, {"products": []})
    assert cache.get(key()) is None
    assert cache.put(key(), cache.generation("t1"), {"products": []})
    assert cache.get(key()) == {"products": []}


def test_a_tenants_change_drops_only_its_entries_and_a_lost_listener_drops_all():
    cache = ReadCache(entries=10, seconds=60)
    for tenant in ("t1", "t2"):
        cache.put(key(tenant), cache.generation(tenant), {"tenant": tenant})
    cache.invalidate("t1")
    assert (cache.get(key("t1")), cache.get(key("t2"))) == (None, {"tenant": "t2"})
    cache.put(key("t1"), cache.generation("t1"), {"tenant": "t1"})
    stale = cache.generation("t2")
    cache.invalidate(None)
    assert (cache.get(key("t1")), cache.get(key("t2"))) == (None, None)
    assert not cache.put(key("t2"), stale, {"tenant": "t2"})


def test_entries_expire_and_the_least_recently_used_go_first(monkeypatch):
    cache = ReadCache(entries=2, seconds=5)
    now = time.monotonic()
    monkeypatch.setattr(time, "monotonic", lambda: now)
    for query in ("{ a }", "{ b }"):
        cache.put(key(query=query), 0, {"q": query})
    cache.get(key(query="{ a }"))
    cache.put(key(query="{ c }"), 0, {"q": "c"})
    assert [cache.get(key(query=q)) is not None for q in ("{ a }", "{ b }", "{ c }")] == [
        True,
        False,
        True,
    ]
    monkeypatch.setattr(time, "monotonic", lambda: now + 6)
    assert cache.get(key(query="{ a }")) is None
    assert len(ReadCache(entries=0, seconds=5)) == 0
    off = ReadCache(entries=0, seconds=5)
    assert not off.put(key(), 0, {"q": 1})


@pytest.mark.parametrize(
    ("document", "operation", "kind"),
    [
        ("{ products(first: 5) { id category { name } } categories { id } }", None, "read"),
        ("query A { orders { id } } query B { product(id: 1) { id } }", "B", "read"),
        ("query A { orders { id } } query B { product(id: 1) { id } }", "A", "other"),
        ("{ products { id } orders { id } }", None, "other"),
        ("{ products { id priceHistory { price } } }", None, "other"),
        ("{ ...Root } fragment Root on Query { products { id } }", None, "other"),
        ("{ __schema { types { name } } }", None, "other"),
        ('mutation { createCategory(input: {name: "x"}) { id } }', None, "mutation"),
        ("subscription { orderUpdated(id: 1) { id } }", None, "other"),
    ],
)
def test_which_operations_are_catalog_reads(document, operation, kind):
    expected = {"read": Kind.CATALOG_READ, "other": Kind.OTHER, "mutation": Kind.MUTATION}
    assert kind_of(parse(document), operation) is expected[kind]


# Through the API ------------------------------------------------------------------------


async def test_a_repeated_catalog_query_is_answered_without_sql(system):
    category = await create_category(system.gql)
    product = await create_product(system.gql, category["id"])
    reader = system.gql.as_user(None)
    first = await reader.data(PRODUCT, {"id": product["id"]})
    with sql_statements(system) as statements:
        again = await reader.data(PRODUCT, {"id": product["id"]})
    assert again == first
    assert statements == []
    # Other variables are another entry.
    with sql_statements(system) as statements:
        missing = await reader.data(PRODUCT, {"id": str(uuid.uuid4())})
    assert missing == {"product": None} and statements


async def test_a_client_reads_its_own_write_at_once(system):
    category = await create_category(system.gql)
    product = await create_product(system.gql, category["id"])
    before = await system.gql.data(PRODUCT, {"id": product["id"]})
    await system.gql.data(UPDATE_PRICE, {"id": product["id"], "p": 4321})
    after = await system.gql.data(PRODUCT, {"id": product["id"]})
    assert before["product"]["price"] != 4321
    assert after["product"]["price"] == 4321


async def test_a_write_by_another_process_drops_the_entry(system, store):
    """A command run outside this API (the worker, another API) announces its tenant."""
    category = await create_category(system.gql)
    product = await create_product(system.gql, category["id"])
    reader = system.gql.as_user(None)
    stock = (await reader.data(PRODUCT, {"id": product["id"]}))["product"]["stock"]
    await reader.data(PRODUCT, {"id": product["id"]})  # now cached

    command_id = str(uuid.uuid4())
    metadata = EventMetadata(
        command_id=command_id, correlation_id=command_id, causation_id=command_id
    )

    async def add(uow: UnitOfWork[Any]) -> None:
        command = AddStock(product_id=product["id"], quantity=7)
        await uow.decide(StockItem, StockItem.stream_id(product["id"]), command)

    engine = system.app.state.services.engine
    await run_in_unit_of_work(engine, store, metadata, INLINE_PROJECTIONS, add, conflict_retries=0)
    deadline = time.monotonic() + 3  # well inside the entry's 10 s
    while True:
        seen = (await reader.data(PRODUCT, {"id": product["id"]}))["product"]["stock"]
        if seen == stock + 7 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.02)
    assert seen == stock + 7


async def test_a_cached_answer_is_never_given_to_a_refused_token_or_another_tenant(system):
    category = await create_category(system.gql)
    product = await create_product(system.gql, category["id"])
    reader = system.gql.as_user(None)
    await reader.data(PRODUCT, {"id": product["id"]})
    await reader.data(PRODUCT, {"id": product["id"]})

    valid = token("mallory", role="user")
    tampered = f"{valid[:-4]}AAAA"
    forged = await system.gql.as_user(tampered)(PRODUCT, {"id": product["id"]})
    assert forged["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    other = await reader(PRODUCT, {"id": product["id"]}, **{"x-tenant-id": "cache-other"})
    assert other == {"data": {"product": None}}


def test_the_cache_keeps_at_most_its_bytes_and_no_answer_over_a_tenth_of_them():
    page = {"products": [{"id": f"p{i}", "name": "x" * 80} for i in range(10)]}  # ~1 KB
    cache = ReadCache(entries=1000, seconds=60, max_bytes=15_000)
    for n in range(20):
        cache.put(key(query=f"{{ q{n} }}"), 0, page)
    assert cache.size <= 15_000 and len(cache) == cache.size // len(to_json(page)) == 14
    assert cache.get(key(query="{ q19 }")) == page, "the most recent stay"
    assert cache.get(key(query="{ q0 }")) is None, "the oldest went first"
    assert not cache.put(key(query="{ big }"), 0, {"products": ["x" * 1_600]})


async def test_a_refused_mutation_does_not_empty_the_cache(system):
    category = await create_category(system.gql)
    product = await create_product(system.gql, category["id"])
    reader = system.gql.as_user(None)
    await reader.data(PRODUCT, {"id": product["id"]})
    refused = await reader('mutation { createCategory(input: {name: "spam"}) { id } }')
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    with sql_statements(system) as statements:
        await reader.data(PRODUCT, {"id": product["id"]})
    assert statements == [], "still answered from the cache"
