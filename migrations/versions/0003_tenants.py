"""Tenants: a tenant on every row, keys per tenant, and row-level security.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

from tenancy import APP_ROLE, TENANT_DEFAULT_SQL, WHOLE_LOG_SETTING, tenant_policy_sql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TENANT_TABLES = (
    "eventstore.events",
    "eventstore.stream_commands",
    "read.categories",
    "read.products",
    "read.price_history",
    "read.orders",
    "read.order_items",
    "read.order_updates",
    "read.order_timeline",
)


def upgrade() -> None:
    for table in TENANT_TABLES:
        # Rows from before tenants belong to the default tenant.
        op.execute(f"ALTER TABLE {table} ADD COLUMN tenant_id text NOT NULL DEFAULT 'default'")
        op.execute(f"ALTER TABLE {table} ALTER COLUMN tenant_id SET DEFAULT {TENANT_DEFAULT_SQL}")
        for statement in tenant_policy_sql(table):
            op.execute(statement)
    # Streams, and the commands that wrote them, are the tenant's own: two
    # tenants may each claim the category name "Electronics".
    op.execute(
        "ALTER TABLE eventstore.events DROP CONSTRAINT events_stream_version_key, "
        "ADD CONSTRAINT events_stream_version_key UNIQUE (tenant_id, stream_id, version)"
    )
    op.execute(
        "ALTER TABLE eventstore.stream_commands DROP CONSTRAINT stream_commands_pkey, "
        "ADD CONSTRAINT stream_commands_pkey PRIMARY KEY (tenant_id, stream_id, command_id)"
    )
    # The projector follows the whole log, and says so for each transaction.
    op.execute(
        "CREATE POLICY whole_log ON eventstore.events FOR SELECT "
        f"USING (current_setting('{WHOLE_LOG_SETTING}', true) = 'on')"
    )
    op.execute(
        f"DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN "
        f"GRANT USAGE ON SCHEMA eventstore, read TO {APP_ROLE}; "
        f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA eventstore TO {APP_ROLE}; "
        f"GRANT SELECT, INSERT, UPDATE ON read.projection_checkpoints TO {APP_ROLE}; "
        "END IF; END $$"
    )


def downgrade() -> None:
    op.execute("DROP POLICY whole_log ON eventstore.events")
    op.execute(
        "ALTER TABLE eventstore.stream_commands DROP CONSTRAINT stream_commands_pkey, "
        "ADD CONSTRAINT stream_commands_pkey PRIMARY KEY (stream_id, command_id)"
    )
    op.execute(
        "ALTER TABLE eventstore.events DROP CONSTRAINT events_stream_version_key, "
        "ADD CONSTRAINT events_stream_version_key UNIQUE (stream_id, version)"
    )
    for table in TENANT_TABLES:
        op.execute(f"DROP POLICY tenant_isolation ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DROP COLUMN tenant_id")
