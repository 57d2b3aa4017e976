"""Metrics, traces, logs and readiness, observed as an operator would."""

from __future__ import annotations

import asyncio
import io
import json

import httpx
import pytest
import sqlalchemy as sa
import structlog
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from devstack.servers import EmbeddedPostgres
from observability.logs import configure_logging
from tests.conftest import (
    free_port,
    make_settings,
    prepared_postgres,
    running_api,
    running_system,
    settings_env,
)
from tests.e2e.test_crashes import shop_process
from tests.orders_client import place, stocked_product, until_final

PLACE_ORDER = "mutation PlaceOrder($input: CreateOrderInput!) { createOrder(input: $input) { id } }"


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one series in Prometheus text format."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        series, _, value = line.rpartition(" ")
        head, _, rest = series.partition("{")
        if head != name:
            continue
        found = dict(part.split("=", 1) for part in rest.rstrip("}").split(",") if "=" in part)
        if all(found.get(k, "").strip('"') == v for k, v in labels.items()):
            return float(value)
    return None


async def scrape(url: str) -> str:
    async with httpx.AsyncClient() as client:
        return (await client.get(url)).text


async def wait_for_sample(url: str, name: str, **labels: str) -> float:
    for _ in range(200):
        try:
            value = sample(await scrape(url), name, **labels)
        except httpx.HTTPError:
            value = None
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"{name}{labels} never appeared at {url}")


async def test_every_process_exports_its_metrics_after_a_saga(database_url, temporal_env, psp_url):
    settings = make_settings(
        database_url,
        temporal_env.client.service_client.config.target_host,
        psp_url,
        worker_metrics_port=free_port(),
        worker_sdk_metrics_port=free_port(),
        projector_metrics_port=free_port(),
        projector_poll_seconds=0.1,
    )
    env = settings_env(settings)
    with shop_process("worker", env), shop_process("projector", env):
        async with running_api(settings) as system:
            for _ in range(100):  # the worker process is starting
                try:
                    product = await stocked_product(system.gql, stock=3)
                    break
                except AssertionError:
                    await asyncio.sleep(0.1)
            body = await system.gql(
                PLACE_ORDER,
                {
                    "input": {
                        "userId": "u-metrics",
                        "items": [{"productId": product["id"], "quantity": 1}],
                    }
                },
            )
            order_id = body["data"]["createOrder"]["id"]
            assert (await until_final(system.gql, order_id))["status"] == "CONFIRMED"
            await system.gql(
                'mutation Broken { createOrder(input: {userId: "u", items: []}) { id } }'
            )

            api = (await system.http.get("/metrics")).text
            assert (
                sample(api, "graphql_operations_total", operation="PlaceOrder", type="mutation")
                == 1
            )
            assert sample(api, "graphql_operation_seconds_count", operation="PlaceOrder") == 1
            assert sample(api, "graphql_errors_total", operation="Broken", code="VALIDATION") == 1

        worker = f"http://127.0.0.1:{settings.worker_metrics_port}/metrics"
        sdk = f"http://127.0.0.1:{settings.worker_sdk_metrics_port}/metrics"
        projector = f"http://127.0.0.1:{settings.projector_metrics_port}/metrics"
        assert await wait_for_sample(sdk, "order_sagas_started") >= 1
        assert await wait_for_sample(sdk, "order_sagas_confirmed") >= 1
        assert (
            await wait_for_sample(
                sdk, "temporal_activity_execution_latency_count", activity_type="process_payment"
            )
            >= 1
        )
        assert (
            await wait_for_sample(sdk, "temporal_workflow_completed", workflow_type="OrderSaga")
            >= 1
        )
        assert (
            sample(await scrape(worker), "psp_circuit_breaker", psp_circuit_breaker="closed") == 1
        )
        assert (
            await wait_for_sample(
                projector, "projector_events_applied_total", projection="order_timeline"
            )
            >= 8
        )
        for _ in range(100):
            if (
                sample(await scrape(projector), "projector_lag_events", projection="order_timeline")
                == 0
            ):
                break
            await asyncio.sleep(0.1)
        assert (
            sample(await scrape(projector), "projector_lag_events", projection="order_timeline")
            == 0
        )
        assert (
            sample(await scrape(projector), "projector_lag_seconds", projection="order_timeline")
            == 0
        )
        for port in (settings.worker_metrics_port, settings.projector_metrics_port):
            async with httpx.AsyncClient() as client:
                ready = await client.get(f"http://127.0.0.1:{port}/readyz")
            assert ready.status_code == 200, ready.text


@pytest.fixture(scope="module")
def spans() -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return exporter


async def test_one_trace_follows_an_order_from_graphql_into_sql(
    spans, database_url, temporal_env, psp_url, engine
):
    settings = make_settings(
        database_url, temporal_env.client.service_client.config.target_host, psp_url
    )
    async with running_system(settings, temporal_env) as system:
        product = await stocked_product(system.gql, stock=2)
        spans.clear()
        body = await system.gql(
            PLACE_ORDER,
            {
                "input": {
                    "userId": "u-trace",
                    "items": [{"productId": product["id"], "quantity": 1}],
                }
            },
        )
        order_id = body["data"]["createOrder"]["id"]
        await until_final(system.gql, order_id)

    finished = spans.get_finished_spans()
    requests = [s for s in finished if s.name == "GraphQL Query: PlaceOrder"]
    assert len(requests) == 1, sorted({s.name for s in finished})  # strawberry says "Query"
    request = requests[0]
    trace_id = request.context.trace_id
    in_trace = [s for s in finished if s.context.trace_id == trace_id]
    names = {s.name for s in in_trace}
    assert "StartUpdateWithStartWorkflow:OrderSaga" in names, sorted(names)
    assert "RunWorkflow:OrderSaga" in names
    for activity in ("reserve_stock", "process_payment", "arrange_shipping", "confirm_order"):
        assert f"RunActivity:{activity}" in names, names
    sql = [s for s in in_trace if (s.attributes or {}).get("db.system") == "postgresql"]
    assert sql, names
    assert "POST /v1/charges" in names  # the call to the payment provider

    async with engine.connect() as conn:
        stored = (
            (
                await conn.execute(
                    sa.text(
                        "SELECT metadata->'trace'->>'traceparent' FROM eventstore.events"
                        " WHERE correlation_id = :o"
                    ),
                    {"o": order_id},
                )
            )
            .scalars()
            .all()
        )
    assert stored and all(tp and tp.split("-")[1] == format(trace_id, "032x") for tp in stored)


async def test_a_log_line_from_an_activity_carries_trace_and_correlation_ids(spans, system):
    buffer = io.StringIO()
    configure_logging(log_format="json", level="INFO", stream=buffer)
    try:
        product = await stocked_product(system.gql, stock=1)
        body = await place(system.gql, [(product["id"], 1)])
        order_id = body["data"]["createOrder"]["id"]
        await until_final(system.gql, order_id)
    finally:
        structlog.reset_defaults()
    lines = [json.loads(line) for line in buffer.getvalue().splitlines() if line.startswith("{")]
    recorded = [
        line
        for line in lines
        if line.get("event") == "saga step recorded" and line.get("order_id") == order_id
    ]
    assert {line["step"] for line in recorded} >= {"reserve_stock", "confirm_order"}
    for line in recorded:
        assert line["correlation_id"] == order_id
        assert len(line["trace_id"]) == 32


async def test_readyz_follows_the_database(tmp_path, temporal_env, psp_url):
    data = tmp_path / "pg"
    server, url = await prepared_postgres(data)
    try:
        settings = make_settings(
            url, temporal_env.client.service_client.config.target_host, psp_url
        )
        async with running_api(settings) as system:
            assert (await system.http.get("/readyz")).status_code == 200
            server.stop()
            down = await system.http.get("/readyz")
            assert down.status_code == 503
            assert down.json()["database"].startswith("unavailable")
            assert down.json()["temporal"] == "ok"
            server = EmbeddedPostgres(data)
            for _ in range(50):
                if (await system.http.get("/readyz")).status_code == 200:
                    break
                await asyncio.sleep(0.1)
            assert (await system.http.get("/readyz")).status_code == 200
    finally:
        server.stop()
