"""`shop audit` as the tests run it: against a system's database and Temporal."""

from __future__ import annotations

from collections.abc import Collection

import httpx

import bootstrap
from database import create_engine
from ops.audit import AuditReport, Finding, run_audit
from psp.client import provider_ledger
from settings import Settings


async def audited(
    settings: Settings, *, with_ledger: bool = False, tenant: str | None = None
) -> AuditReport:
    """The audit of `settings`' database (as its owner), with Temporal, and the provider's
    ledger when asked. No projector runs in most tests: lag is not held against them."""
    engine = create_engine(settings.require_database_owner_url(), pool_size=2)
    try:
        async with httpx.AsyncClient(base_url=settings.psp_url) as psp:
            return await run_audit(
                engine,
                bootstrap.event_store(),
                temporal=await bootstrap.temporal_client(settings),
                ledger=(lambda: provider_ledger(psp, timeout_seconds=2)) if with_ledger else None,
                stalled_after_seconds=300,
                max_lag_seconds=3600,
                tenant=tenant,
            )
    finally:
        await engine.dispose()


def findings_about(report: AuditReport, order_ids: Collection[str]) -> list[Finding]:
    """The findings about these orders: on a database other tests share, theirs are not ours."""
    subjects = {f"order {order_id}" for order_id in order_ids}
    return [finding for finding in report.findings if finding.subject in subjects]
