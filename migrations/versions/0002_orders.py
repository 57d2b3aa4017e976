"""Orders, their items and update log, and the order timeline.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from eventstore.columns import Xid8

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("user_id", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("total_amount", sa.BigInteger, nullable=False),
        sa.Column("saga_status", sa.Text, nullable=False),
        sa.Column("saga_state", sa.Text, nullable=False),
        sa.Column("current_step", sa.Text),
        sa.Column("failure_reason", sa.Text),
        sa.Column("planned_compensations", JSONB, nullable=False, server_default="[]"),
        sa.Column("compensations", JSONB, nullable=False, server_default="[]"),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        schema="read",
    )
    op.create_index("orders_by_user", "orders", ["user_id", "started_at", "id"], schema="read")
    op.create_table(
        "order_items",
        sa.Column("order_id", sa.Text, primary_key=True),
        sa.Column("line", sa.Integer, primary_key=True),
        sa.Column("product_id", sa.Text, nullable=False),
        sa.Column("product_name", sa.Text, nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("price", sa.Integer, nullable=False),
        sa.Column("subtotal", sa.BigInteger, nullable=False),
        schema="read",
    )
    op.create_table(
        "order_updates",
        sa.Column("order_id", sa.Text, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("saga_status", sa.Text, nullable=False),
        sa.Column("current_step", sa.Text),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        schema="read",
    )
    op.create_table(
        "order_timeline",
        sa.Column("transaction_id", Xid8(), primary_key=True),
        sa.Column("sequence", sa.BigInteger, primary_key=True),
        sa.Column("order_id", sa.Text, nullable=False),
        sa.Column("stream_id", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("data", JSONB, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        schema="read",
    )
    op.create_index(
        "order_timeline_by_order",
        "order_timeline",
        ["order_id", "transaction_id", "sequence"],
        schema="read",
    )


def downgrade() -> None:
    for table in ("order_timeline", "order_updates", "order_items", "orders"):
        op.drop_table(table, schema="read")
