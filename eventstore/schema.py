"""Tables of the event store (schema `eventstore`); Alembic migrations create them."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID

from eventstore.columns import TENANT_DEFAULT, Xid8, tenant_column

SCHEMA = "eventstore"

metadata = sa.MetaData(schema=SCHEMA)


events = sa.Table(
    "events",
    metadata,
    sa.Column("position", sa.BigInteger, sa.Identity(always=True), primary_key=True),
    sa.Column(
        "transaction_id", Xid8(), nullable=False, server_default=sa.text("pg_current_xact_id()")
    ),
    sa.Column("stream_id", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("event_id", UUID(as_uuid=False), nullable=False, unique=True),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("event_version", sa.SmallInteger, nullable=False),
    sa.Column("data", JSONB, nullable=False),
    sa.Column("metadata", JSONB, nullable=False),
    sa.Column("correlation_id", sa.Text, nullable=False),
    sa.Column(
        "recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
    tenant_column(),
    sa.UniqueConstraint("tenant_id", "stream_id", "version", name="events_stream_version_key"),
    sa.Index("events_global_order", "transaction_id", "position"),
    sa.Index("events_correlation", "correlation_id"),
)

stream_commands = sa.Table(
    "stream_commands",
    metadata,
    sa.Column("tenant_id", sa.Text, primary_key=True, server_default=TENANT_DEFAULT),
    sa.Column("stream_id", sa.Text, primary_key=True),
    sa.Column("command_id", sa.Text, primary_key=True),
    sa.Column("first_version", sa.Integer, nullable=False),
    sa.Column("last_version", sa.Integer, nullable=False),
    sa.Index("stream_commands_by_command", "command_id"),
)
"""One row per (stream, command): what makes a repeated append write nothing."""

snapshots = sa.Table(
    "snapshots",
    metadata,
    sa.Column("tenant_id", sa.Text, primary_key=True, server_default=TENANT_DEFAULT),
    sa.Column("stream_id", sa.Text, primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("schema_version", sa.SmallInteger, nullable=False),
    sa.Column("state", JSONB, nullable=False),
    sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)
"""The latest snapshot of each snapshotted stream (`eventstore.records.Snapshot`)."""
