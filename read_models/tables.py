"""Tables of the query models (schema `read`); Alembic migrations create them.

Projections write these; the API only reads them. No foreign keys: each table
is rebuilt on its own, and events already guarantee what keys would.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from eventstore.columns import Xid8, tenant_column

SCHEMA = "read"

metadata = sa.MetaData(schema=SCHEMA)

categories = sa.Table(
    "categories",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("categories_by_name", "name", "id"),
    tenant_column(),
)

products = sa.Table(
    "products",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("price", sa.Integer, nullable=False),
    sa.Column("category_id", sa.Text, nullable=False),
    sa.Column("stock", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("products_in_order", "created_at", "id"),
    sa.Index("products_by_category", "category_id", "created_at", "id"),
    tenant_column(),
)

price_history = sa.Table(
    "price_history",
    metadata,
    sa.Column("product_id", sa.Text, primary_key=True),
    sa.Column("transaction_id", Xid8(), primary_key=True),
    sa.Column("sequence", sa.BigInteger, primary_key=True),
    sa.Column("price", sa.Integer, nullable=False),
    sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    tenant_column(),
)

projection_checkpoints = sa.Table(
    "projection_checkpoints",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("transaction_id", Xid8(), nullable=False),
    sa.Column("sequence", sa.BigInteger, nullable=False),
    sa.Column(
        "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
)
"""Where each asynchronous projection has got to, written with its changes."""

parked_events = sa.Table(
    "parked_events",
    metadata,
    sa.Column("projection", sa.Text, primary_key=True),
    sa.Column("transaction_id", Xid8(), primary_key=True),
    sa.Column("sequence", sa.BigInteger, primary_key=True),
    sa.Column("stream_id", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("error", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="1"),
    sa.Column(
        "parked_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
    tenant_column(),
)
"""Events an asynchronous projection could not apply: skipped, kept with their error,
and applied again by `shop projections retry`."""

orders = sa.Table(
    "orders",
    metadata,
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
    sa.Index("orders_by_user", "user_id", "started_at", "id"),
    tenant_column(),
)

order_items = sa.Table(
    "order_items",
    metadata,
    sa.Column("order_id", sa.Text, primary_key=True),
    sa.Column("line", sa.Integer, primary_key=True),
    sa.Column("product_id", sa.Text, nullable=False),
    sa.Column("product_name", sa.Text, nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("price", sa.Integer, nullable=False),
    sa.Column("subtotal", sa.BigInteger, nullable=False),
    tenant_column(),
)

order_updates = sa.Table(
    "order_updates",
    metadata,
    sa.Column("order_id", sa.Text, primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("saga_status", sa.Text, nullable=False),
    sa.Column("current_step", sa.Text),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    tenant_column(),
)
"""One row per change of an order, so a subscriber misses none of them."""

order_timeline = sa.Table(
    "order_timeline",
    metadata,
    sa.Column("transaction_id", Xid8(), primary_key=True),
    sa.Column("sequence", sa.BigInteger, primary_key=True),
    sa.Column("order_id", sa.Text, nullable=False),
    sa.Column("stream_id", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("data", JSONB, nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("order_timeline_by_order", "order_id", "transaction_id", "sequence"),
    tenant_column(),
)
"""Every event that carries an order's correlation id, across streams, in log order."""
