"""Each read model against a fresh rebuild from the log, without writing anything.

The projections replay into temporary tables of the audit's own transaction
(schema `pg_temp`, through SQLAlchemy's schema translation, as `projector.rebuild`
replays into its shadow schema), which is rolled back: the audit is safe to run
against production. Asynchronous projections replay only up to their checkpoint,
so a projector that is merely behind is not reported as wrong; their lag is
checked on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from eventstore import START, FollowedEventStore, RecordedEvent
from ops.audit.findings import AuditReport, Invariant
from projector.parking import ParkedEvent, describe
from read_models.projection import Projection, load_checkpoint, projection_lag
from read_models.tables import SCHEMA
from tenancy import set_tenant

TEMPORARY = "pg_temp"
BATCH = 1000


async def rebuild_in_temporary_tables(
    conn: AsyncConnection,
    store: FollowedEventStore,
    projections: Sequence[Projection],
    report: AuditReport,
    parked_events: Sequence[ParkedEvent],
    *,
    each_event: Callable[[RecordedEvent], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> None:
    """Replay the log into temporary copies of every projection's tables, handing each
    event to `each_event` too, so the log is read once.

    Events the projector parked are left out, as the live tables left them out
    (they are reported on their own); any other event a projection cannot apply
    is a finding, and the replay goes on without it.
    """
    # Read before the translation below, which would look for them in pg_temp too.
    ends = {p.name: None if p.inline else await load_checkpoint(conn, p.name) for p in projections}
    waiting = {(entry.projection, entry.position) for entry in parked_events}
    await conn.execution_options(schema_translate_map={SCHEMA: TEMPORARY})
    try:
        for projection in projections:
            await conn.run_sync(_create, projection.tables)
        position, replayed = START, 0
        while batch := await store.read_all(conn, after=position, limit=BATCH, settled_only=False):
            for event in batch:
                if each_event is not None:
                    each_event(event)
            for projection in projections:
                end = ends[projection.name]
                events = [
                    e
                    for e in batch
                    if (end is None or e.position <= end)
                    and (projection.name, e.position) not in waiting
                ]
                await _replay(conn, projection, events, report)
            position = batch[-1].position
            replayed += len(batch)
            if on_progress is not None:
                on_progress(replayed)
    finally:
        await conn.execution_options(schema_translate_map=None)


async def _replay(
    conn: AsyncConnection, projection: Projection, events: list[RecordedEvent], report: AuditReport
) -> None:
    """All at once in a savepoint; when one fails, one by one, reporting each that fails."""
    try:
        async with conn.begin_nested():
            await projection.apply_page_as_tenants(conn, events)
        return
    except Exception:
        pass
    for event in events:
        try:
            async with conn.begin_nested():
                await projection.apply_as_tenant(conn, event)
        except Exception as error:
            report.add(
                Invariant.PROJECTIONS,
                event.metadata.tenant_id,
                f"{projection.name} ({event.stream_id} v{event.version})",
                f"{event.event.event_type} at {event.position} cannot be applied, and was not "
                f"parked: {describe(error)}",
            )


def check_parked(
    conn_entries: Sequence[ParkedEvent], report: AuditReport, tenant: str | None
) -> None:
    for entry in conn_entries:
        if tenant is None or entry.tenant_id == tenant:
            report.add(
                Invariant.PROJECTIONS,
                entry.tenant_id,
                f"{entry.projection} (parked)",
                f"{entry.event_type} at {entry.position} of {entry.stream_id} was set aside "
                f"after {entry.attempts} attempt(s): {entry.error}; fix it, then "
                f"`shop projections retry {entry.projection}`",
            )


def _create(sync: sa.Connection, tables: tuple[sa.Table, ...]) -> None:
    for table in tables:
        table.create(sync)


async def compare(
    conn: AsyncConnection,
    report: AuditReport,
    projections: Sequence[Projection],
    tenants: Sequence[str],
) -> None:
    """Rows of each live table that the rebuild lacks, and the other way round, per tenant."""
    for tenant in tenants:
        await set_tenant(conn, tenant)  # the live tables show this tenant's rows only
        for projection in projections:
            for table in projection.tables:
                columns = ", ".join(c.name for c in table.columns)
                # Filtered by tenant on both sides: an owner that is a superuser
                # is not held back by row-level security.
                live = f"SELECT {columns} FROM {SCHEMA}.{table.name} WHERE tenant_id = :tenant"
                rebuilt = (
                    f"SELECT {columns} FROM {TEMPORARY}.{table.name} WHERE tenant_id = :tenant"
                )
                for extra, other, says in (
                    (live, rebuilt, "only in the live table"),
                    (rebuilt, live, "missing from the live table"),
                ):
                    rows = (
                        await conn.execute(
                            sa.text(f"{extra} EXCEPT ALL {other} LIMIT 5"), {"tenant": tenant}
                        )
                    ).all()
                    for row in rows:
                        report.add(
                            Invariant.PROJECTIONS,
                            tenant,
                            f"{projection.name} ({SCHEMA}.{table.name})",
                            f"{says}: {_row(row)}",
                        )
                report.counted["read-model tables"] += 1


def _row(row: sa.Row[object]) -> str:
    text = ", ".join(f"{key}={value!r}" for key, value in row._mapping.items())
    return text if len(text) <= 200 else text[:199] + "…"


async def check_lag(
    conn: AsyncConnection,
    store: FollowedEventStore,
    report: AuditReport,
    projections: Sequence[Projection],
    *,
    max_lag_seconds: float,
) -> None:
    for projection in projections:
        if projection.inline:
            continue
        lag = await projection_lag(conn, store, projection.name)
        if lag.seconds > max_lag_seconds:
            report.add(
                Invariant.PROJECTIONS,
                "*",
                projection.name,
                f"{lag.events} events behind the log, the oldest {lag.seconds:.0f} s old "
                f"(allowed: {max_lag_seconds:.0f} s): is the projector running?",
            )
