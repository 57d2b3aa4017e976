"""Tables of the query models (schema `read`); Alembic migrations create them.

Projections write these; the API only reads them. No foreign keys: each table
is rebuilt on its own, and events already guarantee what keys would.
"""

from __future__ import annotations

import sqlalchemy as sa

from eventstore.schema import Xid8

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
)

price_history = sa.Table(
    "price_history",
    metadata,
    sa.Column("product_id", sa.Text, primary_key=True),
    sa.Column("transaction_id", Xid8(), primary_key=True),
    sa.Column("sequence", sa.BigInteger, primary_key=True),
    sa.Column("price", sa.Integer, nullable=False),
    sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
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
