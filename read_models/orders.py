"""The orders query model (inline), with items and the saga's state, and its update log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.messages import DomainEvent
from domain.orders import (
    COMPENSATION_OF,
    Compensation,
    OrderCancelled,
    OrderCompensationStarted,
    OrderConfirmed,
    OrderEvent,
    OrderFailed,
    OrderPaymentProcessed,
    OrderPlaced,
    OrderShippingArranged,
    OrderState,
    OrderStepCompensated,
    OrderStockReserved,
    SagaStep,
)
from eventstore.records import RecordedEvent
from read_models.projection import Projection
from read_models.tables import order_items, order_updates, orders

STEP_OF = {compensation: step for step, compensation in COMPENSATION_OF.items()}

# Each forward event: the state it reaches and the step that comes next.
_FORWARD: dict[type[DomainEvent], tuple[OrderState, SagaStep | None]] = {
    OrderStockReserved: (OrderState.STOCK_RESERVED, SagaStep.PROCESS_PAYMENT),
    OrderPaymentProcessed: (OrderState.PAYMENT_PROCESSED, SagaStep.ARRANGE_SHIPPING),
    OrderShippingArranged: (OrderState.SHIPPING_ARRANGED, SagaStep.CONFIRM_ORDER),
    OrderConfirmed: (OrderState.CONFIRMED, None),
}


async def apply_to_orders(conn: AsyncConnection, recorded: RecordedEvent) -> None:
    event = recorded.event
    at = recorded.recorded_at
    values: dict[str, Any]
    match event:
        case OrderPlaced():
            await _insert_order(conn, event, recorded.version, at)
            await _log_update(conn, event.order_id, recorded.version, at)
            return
        case (
            OrderConfirmed()
            | OrderStockReserved()
            | OrderPaymentProcessed()
            | OrderShippingArranged()
        ):
            state, next_step = _FORWARD[type(event)]
            values = {"status": state.value, "saga_state": state.value}
            values["current_step"] = None if next_step is None else next_step.value
            if next_step is None:
                values.update(saga_status="COMPLETED", completed_at=at)
        case OrderCompensationStarted(reason=reason, compensations=planned):
            values = {
                "saga_status": "COMPENSATING",
                "failure_reason": reason,
                "planned_compensations": [c.value for c in planned],
                "current_step": _compensation_step(planned[0].value) if planned else None,
            }
        case OrderStepCompensated(compensation=compensation):
            values = await _after_compensation(conn, event.order_id, compensation.value)
        case OrderCancelled(reason=reason):
            values = {
                "status": "CANCELLED",
                "saga_state": "CANCELLED",
                "saga_status": "COMPENSATED",
                "current_step": None,
                "completed_at": at,
                "failure_reason": sa.func.coalesce(orders.c.failure_reason, reason),
            }
        case OrderFailed(reason=reason):
            values = {
                "status": "FAILED",
                "saga_state": "FAILED",
                "saga_status": "FAILED",
                "current_step": None,
                "completed_at": at,
                "failure_reason": reason,
            }
        case _:
            return
    assert isinstance(event, OrderEvent)
    order_id = event.order_id
    values.update(version=recorded.version, updated_at=at)
    await conn.execute(sa.update(orders).where(orders.c.id == order_id).values(**values))
    await _log_update(conn, order_id, recorded.version, at)


async def _insert_order(
    conn: AsyncConnection, event: OrderPlaced, version: int, at: datetime
) -> None:
    await conn.execute(
        sa.insert(orders).values(
            id=event.order_id,
            user_id=event.user_id,
            status="PENDING",
            total_amount=event.total_amount,
            saga_status="RUNNING",
            saga_state=OrderState.STARTED.value,
            current_step=SagaStep.RESERVE_STOCK.value,
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


async def _after_compensation(
    conn: AsyncConnection, order_id: str, compensation: str
) -> dict[str, Any]:
    row = (
        await conn.execute(
            sa.select(orders.c.planned_compensations, orders.c.compensations).where(
                orders.c.id == order_id
            )
        )
    ).one()
    done = [*row.compensations, compensation]
    remaining = [c for c in row.planned_compensations if c not in done]
    return {
        "compensations": done,
        "current_step": _compensation_step(remaining[0]) if remaining else None,
    }


def _compensation_step(compensation: str) -> str:
    return f"COMPENSATE_{STEP_OF[Compensation(compensation)].value}"


async def _log_update(conn: AsyncConnection, order_id: str, version: int, at: datetime) -> None:
    await conn.execute(
        sa.insert(order_updates).from_select(
            ["order_id", "version", "status", "saga_status", "current_step", "at"],
            sa.select(
                orders.c.id,
                sa.literal(version),
                orders.c.status,
                orders.c.saga_status,
                orders.c.current_step,
                sa.literal(at),
            ).where(orders.c.id == order_id),
        )
    )


ORDERS = Projection(
    name="orders",
    tables=(orders, order_items, order_updates),
    event_types=frozenset(
        cls.event_type
        for cls in (
            OrderPlaced,
            OrderStockReserved,
            OrderPaymentProcessed,
            OrderShippingArranged,
            OrderConfirmed,
            OrderCompensationStarted,
            OrderStepCompensated,
            OrderCancelled,
            OrderFailed,
        )
    ),
    apply_event=apply_to_orders,
    inline=True,
)
