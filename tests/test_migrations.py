"""The migrations build exactly the tables the code declares."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from eventstore.schema import metadata as eventstore_metadata
from read_models.tables import metadata as read_metadata


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
