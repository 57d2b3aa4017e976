"""Event store, catalog read models and projection checkpoints.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from eventstore.columns import Xid8

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS eventstore")
    op.execute("CREATE SCHEMA IF NOT EXISTS read")
    op.create_table(
        "events",
        sa.Column("position", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column(
            "transaction_id",
            Xid8(),
            nullable=False,
            server_default=sa.text("pg_current_xact_id()"),
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
        sa.UniqueConstraint("stream_id", "version", name="events_stream_version_key"),
        schema="eventstore",
    )
    op.create_index(
        "events_global_order", "events", ["transaction_id", "position"], schema="eventstore"
    )
    op.create_index("events_correlation", "events", ["correlation_id"], schema="eventstore")
    op.create_table(
        "stream_commands",
        sa.Column("stream_id", sa.Text, primary_key=True),
        sa.Column("command_id", sa.Text, primary_key=True),
        sa.Column("first_version", sa.Integer, nullable=False),
        sa.Column("last_version", sa.Integer, nullable=False),
        schema="eventstore",
    )
    op.create_index(
        "stream_commands_by_command", "stream_commands", ["command_id"], schema="eventstore"
    )

    op.create_table(
        "categories",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        schema="read",
    )
    op.create_index("categories_by_name", "categories", ["name", "id"], schema="read")
    op.create_table(
        "products",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("price", sa.Integer, nullable=False),
        sa.Column("category_id", sa.Text, nullable=False),
        sa.Column("stock", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        schema="read",
    )
    op.create_index("products_in_order", "products", ["created_at", "id"], schema="read")
    op.create_index(
        "products_by_category", "products", ["category_id", "created_at", "id"], schema="read"
    )
    op.create_table(
        "price_history",
        sa.Column("product_id", sa.Text, primary_key=True),
        sa.Column("transaction_id", Xid8(), primary_key=True),
        sa.Column("sequence", sa.BigInteger, primary_key=True),
        sa.Column("price", sa.Integer, nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        schema="read",
    )
    op.create_table(
        "projection_checkpoints",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("transaction_id", Xid8(), nullable=False),
        sa.Column("sequence", sa.BigInteger, nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        schema="read",
    )


def downgrade() -> None:
    op.execute("DROP SCHEMA read CASCADE")
    op.execute("DROP SCHEMA eventstore CASCADE")
