"""End-to-end benchmarks: sagas, commands and GraphQL reads, through the real API and worker."""

from __future__ import annotations

import itertools
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from temporalio.client import Client
from temporalio.worker import Worker

import bootstrap
from bench.baseline_workflows import FourActivities, OneLocalActivity, noop
from bench.harness import Result, per_second, percentile
from bench.progress import repetitions
from devstack.issuer import DevIssuer
from devstack.servers import with_user
from settings import Settings
from tenancy import APP_ROLE, act_for
from worker import running_worker


@dataclass
class System:
    http: httpx.AsyncClient
    app: FastAPI
    client: Client
    settings: Settings

    async def gql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = (
            await self.http.post("/graphql", json={"query": query, "variables": variables or {}})
        ).json()
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data


@asynccontextmanager
async def running_system(database_url: str, client: Client, psp_url: str) -> AsyncIterator[System]:
    queues = {
        n: f"bench-{n}-{uuid.uuid4()}"
        for n in ("command", "orders", "inventory", "payments", "shipping")
    }
    issuer = DevIssuer(Path(tempfile.mkdtemp(prefix="bench-issuer-")))
    settings = Settings.model_validate(
        {
            **issuer.trusted_by(),
            # As in production: the app role, under row-level security.
            "database_url": with_user(database_url, APP_ROLE),
            "database_owner_url": database_url,
            "temporal_address": client.service_client.config.target_host,
            "psp_url": psp_url,
            **{f"{name}_task_queue": queue for name, queue in queues.items()},
        }
    )
    app = bootstrap.api_app(settings, registry=CollectorRegistry())

    @app.get("/plain/products")
    async def plain_products() -> list[dict[str, Any]]:
        """The baseline read: the same rows as JSON, from one SQL statement.

        It acts for the tenant as the API does, so both pay row-level security.
        """
        act_for("default")
        async with app.state.services.engine.connect() as conn:
            rows = await conn.execute(
                sa.text(
                    "SELECT p.id, p.name, p.price, c.id AS category_id, c.name AS category_name"
                    " FROM read.products p JOIN read.categories c ON c.id = p.category_id"
                    " ORDER BY p.created_at, p.id LIMIT 100"
                )
            )
            return [
                {
                    "id": r.id,
                    "name": r.name,
                    "price": r.price,
                    "category": {"id": r.category_id, "name": r.category_name},
                }
                for r in rows
            ]

    async with (
        running_worker(settings, client, registry=CollectorRegistry()),
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://bench",
            timeout=60,
            headers={"authorization": f"Bearer {issuer.token(subject='bench', roles=['admin'])}"},
        ) as http,
    ):
        yield System(http=http, app=app, client=client, settings=settings)


async def _catalog(system: System, *, products: int, stock: int) -> list[str]:
    category = (
        await system.gql(
            "mutation($n: String!) { createCategory(input: {name: $n}) { id } }",
            {"n": f"Bench {uuid.uuid4()}"},
        )
    )["createCategory"]["id"]
    ids = []
    for i in range(products):
        product = (
            await system.gql(
                "mutation($c: ID!, $n: String!) { createProduct(input: "
                "{name: $n, price: 1000, categoryId: $c}) { id } }",
                {"c": category, "n": f"Product {i}"},
            )
        )["createProduct"]["id"]
        if stock:
            await system.gql(
                "mutation($p: ID!, $q: Int!) { addStock(input: {productId: $p, quantity: $q})"
                " { id } }",
                {"p": product, "q": stock},
            )
        ids.append(product)
    return ids


async def saga_benchmark(system: System, *, quick: bool, repeat: int) -> list[Result]:
    # Orders spread over a catalogue, as a shop's are: each product's stock is
    # one stream, and every reservation of it appends there.
    products = await _catalog(system, products=10 if quick else 50, stock=100_000)
    orders = 20 if quick else 300
    concurrency = 50
    picks = itertools.cycle(products)

    async def order() -> None:
        created = await system.gql(
            'mutation($p: ID!) { createOrder(input: {userId: "bench", '
            "items: [{productId: $p, quantity: 1}]}) { id } }",
            {"p": next(picks)},
        )
        order_id = created["createOrder"]["id"]
        await system.client.get_workflow_handle(f"order-{order_id}").result()
        found = await system.gql("query($id: ID!) { order(id: $id) { status } }", {"id": order_id})
        status = found["order"]["status"]
        assert status == "CONFIRMED", status

    queue = f"bench-bare-{uuid.uuid4()}"

    async def bare() -> None:
        await system.client.execute_workflow(
            FourActivities.run, id=f"bench-{uuid.uuid4()}", task_queue=queue
        )

    async with Worker(
        system.client, task_queue=queue, workflows=[FourActivities], activities=[noop]
    ):
        await per_second(10, 10, lambda _: order())
        await per_second(10, 10, lambda _: bare())
        ours, baseline = [], []
        for _ in repetitions(f"{orders} orders", repeat):
            ours.append(await per_second(orders, concurrency, lambda _: order()))
            baseline.append(await per_second(orders, concurrency, lambda _: bare()))
    return [
        Result(
            workload="saga, createOrder → CONFIRMED, 50 concurrent",
            unit="orders/s",
            higher_is_better=True,
            ours=ours,
            baseline=baseline,
            baseline_name="workflow with 4 no-op activities",
            target=0.6,
            notes="one process runs the API, the worker and the baseline's worker; the "
            "saga runs four local activities and one activity (the payment, which calls "
            "the provider over HTTP), each one transaction.",
        )
    ]


async def _latencies(count: int, one: Any) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        await one()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


async def command_benchmark(system: System, *, quick: bool, repeat: int) -> list[Result]:
    count = 20 if quick else 200

    async def create_category() -> None:
        await system.gql(
            "mutation($n: String!) { createCategory(input: {name: $n}) { id name } }",
            {"n": f"c-{uuid.uuid4()}"},
        )

    queue = f"bench-local-{uuid.uuid4()}"

    async def bare() -> None:
        await system.client.execute_workflow(
            OneLocalActivity.run, id=f"bench-{uuid.uuid4()}", task_queue=queue
        )

    async with Worker(
        system.client, task_queue=queue, workflows=[OneLocalActivity], activities=[noop]
    ):
        await _latencies(10, create_category)
        await _latencies(10, bare)
        ours, ours_p99, baseline, baseline_p99 = [], [], [], []
        for _ in repetitions(f"{count} commands", repeat):
            samples = await _latencies(count, create_category)
            ours.append(statistics.median(samples))
            ours_p99.append(percentile(samples, 0.99))
            bare_samples = await _latencies(count, bare)
            baseline.append(statistics.median(bare_samples))
            baseline_p99.append(percentile(bare_samples, 0.99))
    return [
        Result(
            workload="command latency, createCategory",
            unit="ms (p50)",
            higher_is_better=False,
            ours=ours,
            baseline=baseline,
            baseline_name="execute_workflow + 1 local activity",
            notes=f"p99 {statistics.median(ours_p99):.1f} ms, the baseline's "
            f"{statistics.median(baseline_p99):.1f} ms. No eager start: the API has no worker.",
        )
    ]


async def graphql_read_benchmark(system: System, *, quick: bool, repeat: int) -> list[Result]:
    from sqlalchemy import event

    await _catalog(system, products=100, stock=0)
    query = "{ products(first: 100) { id name price category { id name } } }"
    requests = 100 if quick else 2000

    async def ours_one() -> None:
        response = await system.http.post("/graphql", json={"query": query})
        assert len(response.json()["data"]["products"]) == 100

    async def plain_one() -> None:
        response = await system.http.get("/plain/products")
        assert len(response.json()) == 100

    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    engine = system.app.state.services.engine
    event.listen(engine.sync_engine, "before_cursor_execute", count)
    await ours_one()
    event.remove(engine.sync_engine, "before_cursor_execute", count)
    queries = [statement for statement in statements if "set_config" not in statement]

    services = system.app.state.services
    uncached = replace(services, read_cache=None)
    await per_second(50, 8, lambda _: ours_one())
    await per_second(50, 8, lambda _: plain_one())
    ours, cached, baseline = [], [], []
    for _ in repetitions(f"{requests} requests", repeat):
        system.app.state.services = uncached
        ours.append(await per_second(requests, 8, lambda _: ours_one()))
        system.app.state.services = services
        cached.append(await per_second(requests, 8, lambda _: ours_one()))
        baseline.append(await per_second(requests, 8, lambda _: plain_one()))
    return [
        Result(
            workload="GraphQL read, 100 products with categories",
            unit="requests/s",
            higher_is_better=True,
            ours=ours,
            baseline=baseline,
            baseline_name="plain FastAPI endpoint",
            target=0.35,
            notes=f"{len(queries)} SQL statements per request (products, then their "
            "categories), whatever the list length, in one transaction that first names "
            "its tenant for row-level security (as the baseline's does). The read cache "
            "is off for this row.",
        ),
        Result(
            workload="GraphQL read through the read cache",
            unit="requests/s",
            higher_is_better=True,
            ours=cached,
            baseline=baseline,
            baseline_name="plain FastAPI endpoint, uncached",
            target=1.0,
            notes="the same query, answered from the API's read cache (api/guards/read_cache.py) "
            "after its first execution: no GraphQL execution and no SQL.",
        ),
    ]
