"""What a projection is, and the checkpoint that asynchronous ones keep."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import groupby

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from eventstore import START, EventStore, Position, RecordedEvent
from read_models.tables import projection_checkpoints
from tenancy import set_tenant

Apply = Callable[[AsyncConnection, RecordedEvent], Awaitable[None]]
ApplyPage = Callable[[AsyncConnection, Sequence[RecordedEvent]], Awaitable[None]]
"""Applies a page of one tenant's events (those the projection handles) in one go."""


@dataclass(frozen=True)
class Projection:
    """One query model: its tables and the function that applies an event to them.

    `inline` projections are applied by the command's own transaction (the API
    reads its writes); the others are applied by the projector, which keeps a
    checkpoint for each in the same transaction as its changes.
    """

    name: str
    tables: tuple[sa.Table, ...]
    event_types: frozenset[str]
    apply_event: Apply
    inline: bool
    apply_page: ApplyPage | None = None
    """Optional: what a rebuild uses to write a page in a few statements; it must
    leave the rows that applying the events one by one leaves."""

    def handles(self, event: RecordedEvent) -> bool:
        return event.event.event_type in self.event_types

    async def apply(self, conn: AsyncConnection, event: RecordedEvent) -> None:
        """Apply `event` in a transaction that already acts for its tenant (a command's)."""
        if self.handles(event):
            await self.apply_event(conn, event)

    async def apply_page_as_tenants(
        self, conn: AsyncConnection, page: Sequence[RecordedEvent]
    ) -> None:
        """Apply a page of the whole log, each tenant's events as that tenant.

        Through `apply_page` when the projection has one, a run of consecutive
        events of one tenant at a time; otherwise event by event.
        """
        handled = [event for event in page if self.handles(event)]
        for tenant, run in groupby(handled, key=lambda event: event.metadata.tenant_id):
            await set_tenant(conn, tenant)
            if self.apply_page is not None:
                await self.apply_page(conn, list(run))
                continue
            for event in run:
                await self.apply_event(conn, event)

    async def apply_as_tenant(self, conn: AsyncConnection, event: RecordedEvent) -> None:
        """Apply `event` from the whole log: first act for its tenant, whose rows it writes."""
        if self.handles(event):
            await set_tenant(conn, event.metadata.tenant_id)
            await self.apply_event(conn, event)


async def load_checkpoint(conn: AsyncConnection, name: str) -> Position:
    row = (
        await conn.execute(
            sa.select(
                projection_checkpoints.c.transaction_id, projection_checkpoints.c.sequence
            ).where(projection_checkpoints.c.name == name)
        )
    ).one_or_none()
    return START if row is None else Position(row.transaction_id, row.sequence)


async def save_checkpoint(conn: AsyncConnection, name: str, position: Position) -> None:
    statement = insert(projection_checkpoints).values(
        name=name, transaction_id=position.transaction_id, sequence=position.sequence
    )
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=[projection_checkpoints.c.name],
            set_={
                "transaction_id": statement.excluded.transaction_id,
                "sequence": statement.excluded.sequence,
                "updated_at": sa.func.now(),
            },
        )
    )


@dataclass(frozen=True)
class Lag:
    """How far an asynchronous projection trails the log."""

    position: Position
    events: int
    """Settled events not applied yet, counted up to 10,000."""
    seconds: float
    """Age of the oldest of them (0 when there are none)."""


async def projection_lag(
    conn: AsyncConnection, store: EventStore[AsyncConnection], name: str
) -> Lag:
    checkpoint = await load_checkpoint(conn, name)
    backlog = await store.backlog(conn, after=checkpoint)
    seconds = 0.0
    if backlog.oldest is not None:
        seconds = max(0.0, (datetime.now(UTC) - backlog.oldest).total_seconds())
    return Lag(position=checkpoint, events=backlog.events, seconds=seconds)
