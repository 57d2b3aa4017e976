"""Shared fixtures: a real PostgreSQL (embedded, and the external one when
TEST_DATABASE_URL is set) and a real Temporal dev server, once per session."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from database import create_engine, migrate
from devstack import EmbeddedPostgres, drop_database, ensure_database, with_database
from domain.registry import ALL_EVENTS
from eventstore import EventRegistry, PostgresEventStore


@pytest.fixture(scope="session")
def embedded_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(tmp_path_factory.mktemp("pg") / "data", delete_on_stop=True)
    yield server
    server.stop()


async def _fresh_database(server_url: str) -> str:
    name = f"shop_test_{uuid.uuid4().hex[:12]}"
    await ensure_database(server_url, name)
    url = with_database(server_url, name)
    await asyncio.to_thread(migrate, url)
    return url


@pytest.fixture(scope="session")
async def database_url(embedded_postgres: EmbeddedPostgres) -> AsyncIterator[str]:
    """A migrated database on the embedded PostgreSQL, for the whole session."""
    url = await _fresh_database(embedded_postgres.url())
    yield url
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
    return EventRegistry(ALL_EVENTS)


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
