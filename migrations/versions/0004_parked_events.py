"""Parked events: what an asynchronous projection could not apply, with its error.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from eventstore.columns import Xid8
from tenancy import TENANT_DEFAULT_SQL, WHOLE_LOG_SETTING, tenant_policy_sql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "parked_events",
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
        sa.Column("tenant_id", sa.Text, nullable=False, server_default=sa.text(TENANT_DEFAULT_SQL)),
        schema="read",
    )
    for statement in tenant_policy_sql("read.parked_events"):
        op.execute(statement)
    # Operators list every tenant's parked events, as the projector reads every
    # tenant's events: only while the transaction says it reads the whole log.
    op.execute(
        "CREATE POLICY whole_log ON read.parked_events FOR SELECT "
        f"USING (current_setting('{WHOLE_LOG_SETTING}', true) = 'on')"
    )


def downgrade() -> None:
    op.drop_table("parked_events", schema="read")
