"""Advisory lock keys, one pair per projection."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection


def _key(kind: str, name: str) -> sa.ColumnElement[int]:
    return sa.func.hashtextextended(f"shop.projection.{kind}.{name}", 0)


async def try_lead(conn: AsyncConnection, name: str) -> bool:
    """Become the one instance running `name` (session lock, held while connected)."""
    return bool(
        (await conn.execute(sa.select(sa.func.pg_try_advisory_lock(_key("leader", name))))).scalar()
    )


async def hold_writes(conn: AsyncConnection, name: str) -> None:
    """Keep other writers of `name`'s tables out until this transaction ends."""
    await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_key("writes", name))))
