"""The migrations build exactly the tables the code declares, and upgrade old data intact."""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import json
import re
import uuid

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

import bootstrap
from database import MIGRATIONS, alembic_config, create_engine, migrate
from devstack.servers import drop_database, ensure_app_role, ensure_database, with_database
from eventstore.schema import metadata as eventstore_metadata
from read_models.tables import metadata as read_metadata
from tenancy import APP_ROLE, read_whole_log
from tests.events.recording import STORED


async def test_migrated_schema_matches_the_table_definitions(engine):
    def differences(sync_conn):
        context = MigrationContext.configure(
            sync_conn, opts={"include_schemas": True, "compare_type": True}
        )
        found = []
        for metadata in (eventstore_metadata, read_metadata):
            diff = compare_metadata(context, metadata)
            schema = metadata.schema
            # compare_metadata also reports every table of other schemas as "removed".
            found += [
                d
                for d in diff
                if not (d[0] == "remove_table" and d[1].schema != schema)
                and not (d[0] == "remove_index" and d[1].table.schema != schema)
            ]
        return found

    async with engine.connect() as conn:
        assert await conn.run_sync(differences) == []


async def test_upgrading_from_the_first_revision_keeps_every_event_and_row(embedded_postgres):
    """A database the first release migrated, with data in it, upgraded to today's head:
    every event and read row is still there, unchanged, and today's code reads every event."""
    server = embedded_postgres.url()
    name = f"shop_upgrade_{uuid.uuid4().hex[:12]}"
    await ensure_database(server, name)
    await ensure_app_role(server, APP_ROLE)
    url = with_database(server, name)
    engine = create_engine(url)
    try:
        await asyncio.to_thread(command.upgrade, alembic_config(url), "0001")
        async with engine.begin() as conn:
            await _store_examples_as_the_first_release_did(conn)
        before = await _everything(engine)
        assert len(before["eventstore.events"]) == len(list(STORED.glob("*.json"))) > 30

        await asyncio.to_thread(migrate, url)

        after = await _everything(engine)
        assert after == before
        async with engine.connect() as conn:
            read = await bootstrap.event_store().read_all(conn, limit=10_000)
            tenants = await conn.scalars(
                sa.text("SELECT DISTINCT tenant_id FROM eventstore.events")
            )
            assert list(tenants) == ["default"]
        assert [(e.stream_id, e.event.event_type) for e in read] == [
            (row["stream_id"], row["event_type"]) for row in before["eventstore.events"]
        ]
    finally:
        await engine.dispose()
        await drop_database(server, name)


EVENT_COLUMNS = (
    "position, transaction_id::text, stream_id, version, event_id, event_type, event_version,"
    " data, metadata, correlation_id, recorded_at"
)
"""The event columns the first revision had: every one must come through unchanged."""


async def _store_examples_as_the_first_release_did(conn: AsyncConnection) -> None:
    """Every stored event example, and catalog rows, as rows of the first revision's tables."""
    for number, path in enumerate(sorted(STORED.glob("*.json")), start=1):
        example = json.loads(path.read_text())
        await conn.execute(
            sa.text(
                "INSERT INTO eventstore.events (stream_id, version, event_id, event_type,"
                " event_version, data, metadata, correlation_id) VALUES (:stream, 1, :id, :type,"
                " :version, CAST(:data AS jsonb), CAST(:metadata AS jsonb), :correlation)"
            ),
            {
                "stream": f"example-{number}",
                "id": str(uuid.uuid4()),
                "type": example["event_type"],
                "version": example["event_version"],
                "data": json.dumps(example["data"]),
                "metadata": json.dumps(example["metadata"]),
                "correlation": example["metadata"]["correlation_id"],
            },
        )
    for statement in (
        "INSERT INTO read.categories VALUES ('c1', 'Laptops', now(), now())",
        "INSERT INTO read.products VALUES ('p1', 'MacBook Pro', 299000, 'c1', 5, now(), now())",
        "INSERT INTO read.projection_checkpoints (name, transaction_id, sequence)"
        " VALUES ('products', pg_current_xact_id(), 3)",
    ):
        await conn.execute(sa.text(statement))


async def _everything(engine: AsyncEngine) -> dict[str, list[dict[str, object]]]:
    tables = {
        "eventstore.events": f"SELECT {EVENT_COLUMNS} FROM eventstore.events ORDER BY position",
        "read.categories": "SELECT id, name, created_at, updated_at FROM read.categories",
        "read.products": "SELECT id, name, price, category_id, stock, created_at, updated_at"
        " FROM read.products",
        "read.projection_checkpoints": "SELECT name, transaction_id::text, sequence"
        " FROM read.projection_checkpoints",
    }
    async with engine.connect() as conn:
        await read_whole_log(conn)  # once row-level security is on, it hides rows otherwise
        return {
            table: [dict(row) for row in (await conn.execute(sa.text(query))).mappings()]
            for table, query in tables.items()
        }


DESTRUCTIVE = re.compile(
    r"\bop\.(drop_\w+|alter_column|rename_table)\b"
    r"|\bop\.add_column\([^)]*nullable\s*=\s*False"
    r"|\bDROP\s+(COLUMN|TABLE|SCHEMA|INDEX|CONSTRAINT|VIEW|FUNCTION|POLICY|TRIGGER)\b"
    r"|\bRENAME\b|\bSET\s+NOT\s+NULL\b|\bTYPE\s+\w+|\bTRUNCATE\b|\bDELETE\s+FROM\b"
    r"|\bADD\s+COLUMN\b[^;\"']*\bNOT\s+NULL\b(?![^;\"']*\bDEFAULT\b)",
    re.IGNORECASE | re.DOTALL,
)
"""What breaks the code still serving while a migration runs: it drops, renames or
tightens what that code uses."""

BEFORE_THE_RULE = {"0003_tenants"}
"""Migrations from before the first production release, which ran with the services
stopped: 0003 swapped the stream keys for per-tenant ones and turned on row-level
security, which the code before it could not have passed. Nothing joins this set."""


@pytest.mark.parametrize(
    "statement",
    [
        "op.drop_column('orders', 'note')",
        "op.add_column('orders', sa.Column('note', sa.Text, nullable=False))",
        "ALTER TABLE read.orders ALTER COLUMN total_amount TYPE bigint",
        "ALTER TABLE read.orders ADD COLUMN note text NOT NULL",
        "ALTER TABLE read.orders RENAME COLUMN note TO remark",
        "DROP VIEW read.order_summaries",
    ],
)
def test_the_expand_check_sees_what_breaks_the_running_release(statement):
    assert DESTRUCTIVE.search(statement)


@pytest.mark.parametrize(
    "statement",
    [
        "op.add_column('orders', sa.Column('note', sa.Text, nullable=True))",
        "ALTER TABLE read.orders ADD COLUMN tenant_id text NOT NULL DEFAULT 'default'",
        "CREATE INDEX CONCURRENTLY orders_by_user ON read.orders (user_id)",
    ],
)
def test_the_expand_check_lets_additions_through(statement):
    assert not DESTRUCTIVE.search(statement)


@pytest.mark.parametrize(
    "path", sorted((MIGRATIONS / "versions").glob("[0-9]*.py")), ids=lambda path: path.stem
)
def test_each_migration_only_expands_unless_it_is_a_contract_step(path):
    """Expand, then contract (docs/changing-things-safely.md): a migration runs while the
    previous release still serves, so it may only add. A removal is a migration of its own,
    `phase = "contract"`, shipped a release after the code stopped using what it removes."""
    spec = importlib.util.spec_from_file_location(f"migration_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # The whole module but its downgrade: SQL may sit in constants and helpers too.
    upgrade_source = inspect.getsource(module).replace(inspect.getsource(module.downgrade), "")
    destructive = DESTRUCTIVE.findall(upgrade_source)
    if path.stem in BEFORE_THE_RULE:
        assert destructive and path.stem < "0006", "the set only ever held the old ones"
    if getattr(module, "phase", "expand") != "contract" and path.stem not in BEFORE_THE_RULE:
        assert not destructive, (
            f"{path.name} drops, renames or tightens something the running release may use;"
            " add what is new now, and remove the old in a later migration with"
            ' phase = "contract"'
        )
