"""Tenants: every row carries one, and PostgreSQL's row-level security keeps them apart.

Its own package because every layer that touches PostgreSQL shares it: the event
store, the read models, the API (which names the caller's tenant) and the worker.

Each transaction acts for one tenant: `acting_for(tenant)` names it for the
current task, and engines built with `scope_transactions` begin every
transaction with `set_config('app.tenant_id', tenant, true)`. The policies
(`tenant_policy_sql`) then show and accept only that tenant's rows, even to
a hand-written `SELECT *`. Reading the whole log (the projector's follower,
lag counts) is the one cross-tenant read, and it says so: `read_whole_log`
sets `WHOLE_LOG_SETTING`, which only the event tables' read policy accepts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

TENANT_SETTING = "app.tenant_id"
WHOLE_LOG_SETTING = "app.reads_whole_log"
APP_ROLE = "shop_app"
"""The role the API, worker and projector connect as: no owner rights, no way around RLS."""

TENANT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@:|+-]{0,99}")
"""What a tenant (and a subject) may be called."""

_tenant: ContextVar[str | None] = ContextVar("tenant", default=None)


def current_tenant() -> str | None:
    return _tenant.get()


def act_for(tenant: str) -> None:
    """From now on in this task (and the tasks it starts), transactions act for `tenant`."""
    _tenant.set(tenant)


@contextmanager
def acting_for(tenant: str) -> Iterator[None]:
    """Transactions begun inside the block act for `tenant`."""
    token = _tenant.set(tenant)
    try:
        yield
    finally:
        _tenant.reset(token)


def scope_transactions(engine: AsyncEngine) -> None:
    """Begin each of `engine`'s transactions as the current tenant (a no-op when none is set)."""

    @event.listens_for(engine.sync_engine, "begin")
    def _set_tenant(conn: sa.Connection) -> None:
        tenant = _tenant.get()
        if tenant is not None:
            conn.execute(_SET_TENANT, {"tenant": tenant})


_SET_TENANT = sa.select(sa.func.set_config(TENANT_SETTING, sa.bindparam("tenant"), True))
_READ_WHOLE_LOG = sa.select(sa.func.set_config(WHOLE_LOG_SETTING, "on", True))


async def set_tenant(conn: AsyncConnection, tenant: str) -> None:
    """Act for `tenant` for the rest of this transaction (the projector, event by event)."""
    await conn.execute(_SET_TENANT, {"tenant": tenant})


async def read_whole_log(conn: AsyncConnection) -> None:
    """Let this transaction read every tenant's events (only the events, only reading)."""
    await conn.execute(_READ_WHOLE_LOG)


TENANT_DEFAULT_SQL = f"coalesce(nullif(current_setting('{TENANT_SETTING}', true), ''), 'default')"
"""A new row's tenant: the transaction's. A role under RLS that names none is refused anyway."""


def tenant_policy_sql(table: str) -> list[str]:
    """Statements that put `table` (schema-qualified) under its tenant's row-level security."""
    same_tenant = f"tenant_id = current_setting('{TENANT_SETTING}', true)"
    return [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY tenant_isolation ON {table} USING ({same_tenant}) "
        f"WITH CHECK ({same_tenant})",
        f"DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {APP_ROLE}; END IF; END $$",
    ]
