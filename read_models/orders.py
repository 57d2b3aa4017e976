"""The orders query model (inline), with items and the saga's state, and its update log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.orders import (
    ORDER_EVENTS,
    STEP_RECORDED_BY,
    OrderCancelled,
    OrderCompensationStarted,
    OrderConfirmed,
    OrderEvent,
    OrderFailed,
    OrderFraudChecked,
    OrderPaymentProcessed,
    OrderPlaced,
    OrderShippingArranged,
    OrderStepCompensated,
    OrderStockReserved,
)
from domain.saga import (
    COMPENSATING_STEP,
    FORWARD_STEPS,
    REACHES,
    Compensation,
    OrderState,
    OrderStatus,
    SagaStatus,
    SagaStep,
    step_after,
)
from eventstore import RecordedEvent
from read_models.projection import Projection
from read_models.tables import order_items, order_updates, orders


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
            step = STEP_RECORDED_BY[type(event)]
            state, next_step = REACHES[step], step_after(step)
            values = {"status": OrderStatus.of(state), "saga_state": state}
            values["current_step"] = next_step
            if next_step is None:
                values.update(saga_status=SagaStatus.COMPLETED, completed_at=at)
        case OrderFraudChecked(passed=passed):
            # A refusal moves nothing: the compensation that follows says what happened.
            values = {"current_step": step_after(SagaStep.CHECK_FRAUD)} if passed else {}
        case OrderCompensationStarted(reason=reason, compensations=planned):
            values = {
                "saga_status": SagaStatus.COMPENSATING,
                "failure_reason": reason,
                "planned_compensations": [c.value for c in planned],
                "current_step": COMPENSATING_STEP[planned[0]] if planned else None,
            }
        case OrderStepCompensated(compensation=compensation):
            values = await _after_compensation(conn, event.order_id, compensation)
        case OrderCancelled(reason=reason):
            values = {
                "status": OrderStatus.CANCELLED,
                "saga_state": OrderState.CANCELLED,
                "saga_status": SagaStatus.COMPENSATED,
                "current_step": None,
                "completed_at": at,
                "failure_reason": sa.func.coalesce(orders.c.failure_reason, reason),
            }
        case OrderFailed(reason=reason):
            values = {
                "status": OrderStatus.FAILED,
                "saga_state": OrderState.FAILED,
                "saga_status": SagaStatus.FAILED,
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
            status=OrderStatus.PENDING,
            total_amount=event.total_amount,
            saga_status=SagaStatus.RUNNING,
            saga_state=OrderState.STARTED,
            current_step=FORWARD_STEPS[0],
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
    conn: AsyncConnection, order_id: str, compensation: Compensation
) -> dict[str, Any]:
    row = (
        await conn.execute(
            sa.select(orders.c.planned_compensations, orders.c.compensations).where(
                orders.c.id == order_id
            )
        )
    ).one()
    done = [*row.compensations, compensation.value]
    remaining = [Compensation(c) for c in row.planned_compensations if c not in done]
    return {
        "compensations": done,
        "current_step": COMPENSATING_STEP[remaining[0]] if remaining else None,
    }


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
    event_types=frozenset(cls.event_type for cls in ORDER_EVENTS),
    apply_event=apply_to_orders,
    inline=True,
)
