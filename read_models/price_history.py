"""Every price a product has had (asynchronous: nothing waits on it)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.catalog import ProductCreated, ProductPriceChanged
from eventstore import RecordedEvent
from read_models.projection import Projection
from read_models.tables import price_history


async def apply_to_price_history(conn: AsyncConnection, recorded: RecordedEvent) -> None:
    event = recorded.event
    assert isinstance(event, ProductCreated | ProductPriceChanged)
    await conn.execute(
        sa.insert(price_history).values(
            product_id=event.product_id,
            transaction_id=recorded.position.transaction_id,
            sequence=recorded.position.sequence,
            price=event.price,
            changed_at=recorded.recorded_at,
        )
    )


PRICE_HISTORY = Projection(
    name="price_history",
    tables=(price_history,),
    event_types=frozenset({ProductCreated.event_type, ProductPriceChanged.event_type}),
    apply_event=apply_to_price_history,
    inline=False,
)
