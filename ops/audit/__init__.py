"""`shop audit`: one command that says whether anything was lost.

It reads the event log, the read models, Temporal and the payment provider's
ledger, and checks the books each keeps against the others (see
`findings.MEANING` for the invariants). It writes nothing: the log and the read
models are read in one REPEATABLE READ transaction, which the rebuild of every
read model into temporary tables shares and which is rolled back at the end.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from temporalio.client import Client

from eventstore import FollowedEventStore, RecordedEvent
from ops.audit.books import Books, Key
from ops.audit.findings import AuditReport, Finding, Invariant
from ops.audit.outside import check_ledger, check_sagas
from ops.audit.projections import (
    check_lag,
    check_parked,
    compare,
    rebuild_in_temporary_tables,
)
from projector.parking import parked
from psp.client import LedgerCharge
from read_models import PROJECTIONS
from read_models.tables import orders, products
from tenancy import set_tenant

__all__ = ["AuditReport", "Finding", "Invariant", "run_audit"]


async def run_audit(
    engine: AsyncEngine,
    store: FollowedEventStore,
    *,
    temporal: Client | None,
    ledger: Callable[[], Awaitable[Sequence[LedgerCharge]]] | None,
    stalled_after_seconds: float,
    max_lag_seconds: float,
    tenant: str | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> AuditReport:
    """Audit every tenant (or only `tenant`); `engine` must connect as the owner role."""
    report = AuditReport()
    books = Books(report)

    def read(event: RecordedEvent) -> None:
        if tenant is None or event.metadata.tenant_id == tenant:
            books.read(event)

    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="REPEATABLE READ")
        async with conn.begin() as transaction:
            parked_events = await parked(conn)
            await rebuild_in_temporary_tables(
                conn,
                store,
                PROJECTIONS,
                report,
                parked_events,
                each_event=read,
                on_progress=on_progress,
            )
            tenants = sorted({t for t, _ in books.streams})
            stock, statuses, last_change = await _read_models(conn, tenants)
            books.check_log()
            books.check_against(stock, statuses)
            await compare(conn, report, PROJECTIONS, tenants)
            await check_lag(conn, store, report, PROJECTIONS, max_lag_seconds=max_lag_seconds)
            check_parked(parked_events, report, tenant)
            await transaction.rollback()  # the temporary tables go with it

    if temporal is None:
        report.skipped.append("sagas: no Temporal address")
    else:
        await check_sagas(
            temporal, books, report, last_change, stalled_after_seconds=stalled_after_seconds
        )
    if ledger is None:
        report.skipped.append("the provider's ledger: no payment provider")
    else:
        try:
            charges = await ledger()
        except Exception as error:  # the provider is down: say so, check the rest
            report.skipped.append(f"the provider's ledger: {type(error).__name__}: {error}")
        else:
            check_ledger(books, report, charges)
    return report


async def _read_models(
    conn: AsyncConnection, tenants: Sequence[str]
) -> tuple[dict[Key, int], dict[Key, str], dict[Key, datetime]]:
    """Stock per product and status per order, as the read models show them."""
    stock: dict[Key, int] = {}
    statuses: dict[Key, str] = {}
    last_change: dict[Key, datetime] = {}
    for tenant in tenants:
        # Under row-level security the owner sees a tenant's rows only while acting
        # for it; a superuser sees every row, hence the filter as well.
        await set_tenant(conn, tenant)
        rows = await conn.execute(
            sa.select(products.c.id, products.c.stock).where(products.c.tenant_id == tenant)
        )
        stock.update({(tenant, row.id): row.stock for row in rows})
        rows = await conn.execute(
            sa.select(orders.c.id, orders.c.status, orders.c.updated_at).where(
                orders.c.tenant_id == tenant
            )
        )
        for row in rows:
            statuses[(tenant, row.id)] = row.status
            last_change[(tenant, row.id)] = row.updated_at
    return stock, statuses, last_change
