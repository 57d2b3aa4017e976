"""The orders query model (inline), with items and the saga's state, and its update log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.orders import (
    ORDER_EVENTS,
    OrderCancelled,
    OrderCompensationStarted,
    OrderEvent,
    OrderFailed,
    OrderPlaced,
    saga_progress_after,
)
from domain.saga import (
    Compensation,
    OrderState,
    SagaProgress,
    SagaStatus,
    SagaStep,
    SagaView,
    saga_view,
)
from eventstore import RecordedEvent
from read_models.projection import Projection
from read_models.tables import order_items, order_updates, orders


async def apply_to_orders(conn: AsyncConnection, recorded: RecordedEvent) -> None:
    event = recorded.event
    if not isinstance(event, OrderEvent):
        return
    at = recorded.recorded_at
    if isinstance(event, OrderPlaced):
        placed = saga_view(SagaProgress())
        await _insert_order(conn, event, recorded.version, placed, at)
        entry = _log_entry(recorded.version, placed, at)
        await conn.execute(sa.insert(order_updates).values(order_id=event.order_id, **entry))
        return
    read = sa.select(*_PROGRESS_COLUMNS, orders.c.failure_reason)
    row = (await conn.execute(read.where(orders.c.id == event.order_id))).mappings().one_or_none()
    if row is None:
        return  # an event of an order this model never placed: nothing to update
    before = _progress(row)
    after = saga_progress_after(before, event)
    view = saga_view(after)
    values: dict[str, Any] = {
        "status": view.status,
        "saga_state": view.state,
        "saga_status": view.saga_status,
        "current_step": view.current_step,
        "compensations": [c.value for c in after.compensated],
        "version": recorded.version,
        "updated_at": at,
    }
    match event:
        case OrderCompensationStarted(reason=reason, compensations=planned):
            values.update(failure_reason=reason, planned_compensations=[c.value for c in planned])
        case OrderCancelled(reason=reason):
            # The reason compensation began with stays: it says why the order was cancelled.
            stored = row["failure_reason"]
            values["failure_reason"] = reason if stored is None else stored
        case OrderFailed(reason=reason):
            values["failure_reason"] = reason
    if view.finished and not saga_view(before).finished:
        values["completed_at"] = at
    # One statement for the row and its log entry: the update hands its id to the insert.
    updated = (
        sa.update(orders)
        .where(orders.c.id == event.order_id)
        .values(**values)
        .returning(orders.c.id)
        .cte("updated")
    )
    entry = _log_entry(recorded.version, view, at)
    logged = [sa.literal(value, order_updates.c[name].type) for name, value in entry.items()]
    await conn.execute(
        sa.insert(order_updates).from_select(["order_id", *entry], sa.select(updated.c.id, *logged))
    )


_PROGRESS_COLUMNS = (
    orders.c.saga_state,
    orders.c.saga_status,
    orders.c.current_step,
    orders.c.planned_compensations,
    orders.c.compensations,
)
"""What an order's row keeps of its saga's progress."""


def _progress(row: sa.RowMapping) -> SagaProgress:
    """The saga's progress as the order's row records it."""
    running = row["saga_status"] == SagaStatus.RUNNING
    step, planned = row["current_step"], row["planned_compensations"]
    return SagaProgress(
        state=OrderState(row["saga_state"]),
        step=SagaStep(step) if running and step else None,
        planned=None if running else tuple(Compensation(c) for c in planned),
        compensated=tuple(Compensation(c) for c in row["compensations"]),
    )


async def _insert_order(
    conn: AsyncConnection, event: OrderPlaced, version: int, view: SagaView, at: datetime
) -> None:
    await conn.execute(
        sa.insert(orders).values(
            id=event.order_id,
            user_id=event.user_id,
            status=view.status,
            total_amount=event.total_amount,
            saga_status=view.saga_status,
            saga_state=view.state,
            current_step=view.current_step,
            version=version,
            started_at=at,
            updated_at=at,
        )
    )
    await conn.execute(
        sa.insert(order_items),
        [
            {
                "order_id": event.order_id,
                "line": line,
                "product_id": item.product_id,
                "product_name": item.product_name,
                "quantity": item.quantity,
                "price": item.price,
                "subtotal": item.subtotal,
            }
            for line, item in enumerate(event.items, start=1)
        ],
    )


def _log_entry(version: int, view: SagaView, at: datetime) -> dict[str, Any]:
    """An entry of the order's update log, but for its order id: what subscribers are sent."""
    return {
        "version": version,
        "status": view.status,
        "saga_status": view.saga_status,
        "current_step": view.current_step,
        "at": at,
    }


ORDERS = Projection(
    name="orders",
    tables=(orders, order_items, order_updates),
    event_types=frozenset(cls.event_type for cls in ORDER_EVENTS),
    apply_event=apply_to_orders,
    inline=True,
)
