"""GraphQL types of orders, built from the orders read model."""

from __future__ import annotations

from datetime import datetime

import strawberry
from sqlalchemy import RowMapping
from strawberry.scalars import JSON

from api.graphql.context import Info
from api.graphql.pagination import log_cursor, log_page
from api.guards.cost import LIST_SIZE
from domain.orders import MAX_LINES
from domain.saga import Compensation, OrderState, OrderStatus, SagaStatus, SagaStep
from read_models import queries

# The domain's own enums, registered as GraphQL enums (not copies of them).
strawberry.enum(
    OrderStatus, description="PENDING until the saga reaches its first state, then that state."
)
strawberry.enum(OrderState, name="SagaStateName", description="The last state the saga reached.")
strawberry.enum(SagaStatus, description="The saga's lifecycle; FAILED means an operator is needed.")
strawberry.enum(SagaStep, description="The step under way; null once the saga has finished.")
strawberry.enum(Compensation)


@strawberry.type(description="How far the order saga has got.")
class SagaState:
    status: SagaStatus
    state: OrderState
    current_step: SagaStep | None
    started_at: datetime
    completed_at: datetime | None
    failure_reason: str | None
    compensations: list[Compensation] = strawberry.field(
        description="Compensations run, in the order they ran."
    )

    @classmethod
    def from_row(cls, row: RowMapping) -> SagaState:
        step = row["current_step"]
        return cls(
            status=SagaStatus(row["saga_status"]),
            state=OrderState(row["saga_state"]),
            current_step=None if step is None else SagaStep(step),
            started_at=row["started_at"],
            completed_at=row["completed_at"],
            failure_reason=row["failure_reason"],
            compensations=[Compensation(c) for c in row["compensations"]],
        )


@strawberry.type(description="One line of an order, priced when the order was placed.")
class OrderItem:
    product_id: strawberry.ID
    product_name: str
    quantity: int
    price: int
    subtotal: int

    @classmethod
    def from_row(cls, row: RowMapping) -> OrderItem:
        return cls(
            product_id=strawberry.ID(row["product_id"]),
            product_name=row["product_name"],
            quantity=row["quantity"],
            price=row["price"],
            subtotal=row["subtotal"],
        )


@strawberry.type(description="An event of the order's saga, from any stream.")
class TimelineEvent:
    type: str
    stream_id: str
    version: int
    recorded_at: datetime
    data: JSON
    cursor: str = strawberry.field(description="Pass as `after` for the events after this one.")


@strawberry.type
class Order:
    id: strawberry.ID
    user_id: strawberry.ID
    status: OrderStatus
    total_amount: int = strawberry.field(description="Σ subtotal, in yen.")
    saga_state: SagaState
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: RowMapping) -> Order:
        return cls(
            id=strawberry.ID(row["id"]),
            user_id=strawberry.ID(row["user_id"]),
            status=OrderStatus(row["status"]),
            total_amount=row["total_amount"],
            saga_state=SagaState.from_row(row),
            created_at=row["started_at"],
            updated_at=row["updated_at"],
        )

    @strawberry.field(metadata={LIST_SIZE: MAX_LINES})
    async def items(self, info: Info) -> list[OrderItem]:
        rows = await info.context.loaders.order_items.load(self.id)
        return [OrderItem.from_row(row) for row in rows]

    @strawberry.field(
        description="The events of this order's saga across streams, in log order, "
        "`first` (1 to 1000) at a time after the `cursor` given as `after`. Projected "
        "asynchronously, so it may trail the order briefly."
    )
    async def timeline(
        self, info: Info, first: int = 100, after: str | None = None
    ) -> list[TimelineEvent]:
        rows = await info.context.loaders.timeline.load(log_page(self.id, first, after))
        return [
            TimelineEvent(
                type=row["event_type"],
                stream_id=row["stream_id"],
                version=row["version"],
                recorded_at=row["recorded_at"],
                data=row["data"],
                cursor=log_cursor(row["transaction_id"], row["sequence"]),
            )
            for row in rows
        ]


@strawberry.type(description="A change of an order's status, pushed by `orderUpdated`.")
class OrderUpdate:
    order_id: strawberry.ID
    version: int = strawberry.field(description="Grows with every change of this order.")
    status: OrderStatus
    saga_status: SagaStatus
    current_step: SagaStep | None
    at: datetime

    @classmethod
    def from_row(cls, row: RowMapping) -> OrderUpdate:
        step = row["current_step"]
        return cls(
            order_id=strawberry.ID(row["order_id"]),
            version=row["version"],
            status=OrderStatus(row["status"]),
            saga_status=SagaStatus(row["saga_status"]),
            current_step=None if step is None else SagaStep(step),
            at=row["at"],
        )

    @strawberry.field(description="The order as it is now.")
    async def order(self, info: Info) -> Order | None:
        # Read afresh on every update: a subscription's loaders would serve the first one.
        async with info.context.services.engine.connect() as conn:
            row = (await queries.order_rows(conn, [str(self.order_id)])).get(str(self.order_id))
        return None if row is None else Order.from_row(row)
