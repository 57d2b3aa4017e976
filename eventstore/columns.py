"""Columns shared by the event store and the read models: log positions and tenants."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.types import UserDefinedType

from tenancy import TENANT_DEFAULT_SQL

TENANT_DEFAULT = sa.text(TENANT_DEFAULT_SQL)


def tenant_column() -> sa.Column[str]:
    """The tenant a row belongs to; row-level security keys on it (migration 0003)."""
    return sa.Column("tenant_id", sa.Text, nullable=False, server_default=TENANT_DEFAULT)


class Xid8(UserDefinedType[int]):
    """PostgreSQL's 64-bit transaction id, which asyncpg reads as `int`."""

    cache_ok = True

    def get_col_spec(self, **kw: object) -> str:
        return "xid8"
