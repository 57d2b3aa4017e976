"""Each order's timeline: every event its saga caused, across streams (asynchronous)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.inventory import StockReleased, StockReserved, StockSettled
from domain.messages import DomainEvent
from domain.orders import ORDER_EVENTS
from domain.payments import PAYMENT_EVENTS
from domain.shipping import SHIPPING_EVENTS
from eventstore import RecordedEvent
from read_models.projection import Projection
from read_models.tables import order_timeline


async def apply_to_order_timeline(conn: AsyncConnection, recorded: RecordedEvent) -> None:
    # Saga activities record their events with the order id as correlation id.
    await conn.execute(
        sa.insert(order_timeline).values(
            transaction_id=recorded.position.transaction_id,
            sequence=recorded.position.sequence,
            order_id=recorded.metadata.correlation_id,
            stream_id=recorded.stream_id,
            version=recorded.version,
            event_type=recorded.event.event_type,
            data=recorded.event.model_dump(mode="json"),
            recorded_at=recorded.recorded_at,
        )
    )


SAGA_EVENTS: tuple[type[DomainEvent], ...] = (
    *ORDER_EVENTS,
    *PAYMENT_EVENTS,
    *SHIPPING_EVENTS,
    StockReserved,
    StockReleased,
    StockSettled,
)

ORDER_TIMELINE = Projection(
    name="order_timeline",
    tables=(order_timeline,),
    event_types=frozenset(cls.event_type for cls in SAGA_EVENTS),
    apply_event=apply_to_order_timeline,
    inline=False,
)
