"""Snapshots: the latest cached state of long streams, per tenant.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25

Expand-only: a new table, which code from before it never reads.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from tenancy import TENANT_DEFAULT_SQL, tenant_policy_sql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "snapshots",
        sa.Column(
            "tenant_id",
            sa.Text,
            primary_key=True,
            server_default=sa.text(TENANT_DEFAULT_SQL),
        ),
        sa.Column("stream_id", sa.Text, primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("schema_version", sa.SmallInteger, nullable=False),
        sa.Column("state", JSONB, nullable=False),
        sa.Column(
            "taken_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        schema="eventstore",
    )
    for statement in tenant_policy_sql("eventstore.snapshots"):
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("snapshots", schema="eventstore")
