"""Orders: what was ordered, at what price, and how far its saga has got.

The order's stream is the saga's log: every step the saga completes or
compensates lands here as an event, so an order's whole story reads from it.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.errors import Conflict, NotFound
from domain.fraud import FraudVerdict
from domain.messages import SHOP_CURRENCY, Command, Currency, DomainEvent, EntityId, Yen
from domain.saga import (
    Compensation,
    OrderState,
    SagaProgress,
    SagaStep,
    saga_view,
)

MAX_LINES = 100
MAX_QUANTITY = 1000
MAX_TOTAL = 2_147_483_647
"""An order's total is returned as a GraphQL `Int`, so it must fit 32 bits."""


class OrderItem(BaseModel):
    """One line of an order, priced when the order was placed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    product_id: EntityId
    product_name: str
    quantity: Annotated[int, Field(ge=1, le=MAX_QUANTITY, strict=True)]
    price: Yen

    @property
    def subtotal(self) -> int:
        return self.price * self.quantity


class PlaceOrder(Command):
    order_id: EntityId
    user_id: EntityId
    items: Annotated[list[OrderItem], Field(min_length=1, max_length=MAX_LINES)]

    @model_validator(mode="after")
    def _one_line_per_product_and_a_total_that_fits(self) -> PlaceOrder:
        seen: set[str] = set()
        for item in self.items:
            if item.product_id in seen:
                raise ValueError(f"product {item.product_id} appears on more than one line")
            seen.add(item.product_id)
        if self.total_amount > MAX_TOTAL:
            raise ValueError(f"the total {self.total_amount} exceeds the maximum of {MAX_TOTAL}")
        return self

    @property
    def total_amount(self) -> int:
        return sum(item.subtotal for item in self.items)


class RecordStep(Command):
    """The saga completed a step that made nothing to name: the stock, or the confirmation."""

    order_id: str
    step: SagaStep

    @model_validator(mode="after")
    def _a_step_without_a_reference(self) -> RecordStep:
        if self.step not in (SagaStep.RESERVE_STOCK, SagaStep.CONFIRM_ORDER):
            raise ValueError(f"{self.step} is recorded with what it made, not as a bare step")
        return self


class RecordPayment(Command):
    """The saga took the payment: the provider's charge, and what it took."""

    order_id: str
    payment_id: str
    amount: int


class RecordShipment(Command):
    """The saga arranged the shipment the carrier booked."""

    order_id: str
    shipment_id: str


class RecordFraudCheck(Command):
    """The fraud check's verdict; a refusal is recorded too, then the saga compensates."""

    order_id: str
    verdict: FraudVerdict


class BeginCompensation(Command):
    order_id: str
    reason: str
    compensations: list[Compensation]


class RecordCompensation(Command):
    order_id: str
    compensation: Compensation


class CloseOrder(Command):
    """End the order: CANCELLED after its compensations, or FAILED for an operator."""

    order_id: str
    outcome: OrderState
    reason: str


# Events --------------------------------------------------------------------


class OrderEvent(DomainEvent):
    """Base of the order stream's events."""

    order_id: str


class OrderPlaced(OrderEvent):
    """Version 2 names the currency of its prices and total; version 1 orders were all in yen."""

    event_version: ClassVar[int] = 2

    user_id: str
    items: list[OrderItem]
    total_amount: int
    currency: Currency


class OrderStockReserved(OrderEvent):
    pass


class OrderPaymentProcessed(OrderEvent):
    payment_id: str
    amount: int


class OrderShippingArranged(OrderEvent):
    shipment_id: str


class OrderConfirmed(OrderEvent):
    pass


class OrderFraudChecked(OrderEvent):
    """The fraud check's verdict; orders placed before the check existed have none."""

    passed: bool
    reason: str


class OrderCompensationStarted(OrderEvent):
    reason: str
    compensations: list[Compensation]
    """The compensations to run, in the order they will run."""


class OrderStepCompensated(OrderEvent):
    compensation: Compensation


class OrderCancelled(OrderEvent):
    reason: str


class OrderFailed(OrderEvent):
    reason: str


ORDER_EVENTS: tuple[type[DomainEvent], ...] = (
    OrderPlaced,
    OrderStockReserved,
    OrderPaymentProcessed,
    OrderShippingArranged,
    OrderConfirmed,
    OrderFraudChecked,
    OrderCompensationStarted,
    OrderStepCompensated,
    OrderCancelled,
    OrderFailed,
)

STEP_RECORDED_BY: dict[type[DomainEvent], SagaStep] = {
    OrderStockReserved: SagaStep.RESERVE_STOCK,
    OrderPaymentProcessed: SagaStep.PROCESS_PAYMENT,
    OrderShippingArranged: SagaStep.ARRANGE_SHIPPING,
    OrderConfirmed: SagaStep.CONFIRM_ORDER,
}
"""The forward step each progress event records."""


class OrderProgress(BaseModel):
    """The `Order` aggregate's state: what was ordered, and how far the saga has got with it."""

    model_config = ConfigDict(frozen=True)

    placed: bool = False
    items: tuple[OrderItem, ...] = ()
    fraud_check: FraudVerdict | None = None
    """The fraud check's verdict, once recorded: a repeat of the check answers it again."""
    saga: SagaProgress = SagaProgress()

    @property
    def state(self) -> OrderState:
        return self.saga.state

    @property
    def compensating(self) -> bool:
        return self.saga.planned is not None

    @property
    def compensated(self) -> tuple[Compensation, ...]:
        return self.saga.compensated

    @property
    def finished(self) -> bool:
        return saga_view(self.saga).finished


def saga_progress_after(progress: SagaProgress, event: DomainEvent) -> SagaProgress:
    """The saga's progress once the order's stream holds `event`.

    The aggregate and the orders read model both follow the stream through this,
    and take their view of the saga from `saga_view`.
    """
    match event:
        case OrderPlaced():
            return SagaProgress()
        case OrderEvent() if type(event) in STEP_RECORDED_BY:
            return progress.complete(STEP_RECORDED_BY[type(event)])
        case OrderFraudChecked(passed=True):
            return progress.complete(SagaStep.CHECK_FRAUD)
        case OrderCompensationStarted(compensations=planned):
            return progress.compensate(tuple(planned))
        case OrderStepCompensated(compensation=compensation):
            return progress.undo(compensation)
        case OrderCancelled():
            return progress.close(OrderState.CANCELLED)
        case OrderFailed():
            return progress.close(OrderState.FAILED)
    # A refused fraud check moves nothing: the compensation that follows says what happened.
    return progress


class Order:
    """An order and the saga's progress through it."""

    @staticmethod
    def stream_id(order_id: str) -> str:
        return f"order-{order_id}"

    @staticmethod
    def initial() -> OrderProgress:
        return OrderProgress()

    @staticmethod
    def evolve(state: OrderProgress, event: DomainEvent) -> OrderProgress:
        saga = saga_progress_after(state.saga, event)
        match event:
            case OrderPlaced(items=items):
                return OrderProgress(placed=True, items=tuple(items), saga=saga)
            case OrderFraudChecked(passed=passed, reason=reason):
                verdict = FraudVerdict(passed=passed, reason=reason)
                return state.model_copy(update={"fraud_check": verdict, "saga": saga})
        return state.model_copy(update={"saga": saga})

    @staticmethod
    def decide(
        state: OrderProgress,
        command: PlaceOrder
        | RecordStep
        | RecordPayment
        | RecordShipment
        | RecordFraudCheck
        | BeginCompensation
        | RecordCompensation
        | CloseOrder,
    ) -> list[DomainEvent]:
        if not state.placed and not isinstance(command, PlaceOrder):
            # The saga places its order first; nothing else may start a stream.
            raise NotFound(f"order {command.order_id} was never placed", field="id")
        match command:
            case PlaceOrder():
                if state.placed:
                    return []
                return [
                    OrderPlaced(
                        order_id=command.order_id,
                        user_id=command.user_id,
                        items=command.items,
                        total_amount=command.total_amount,
                        currency=SHOP_CURRENCY,
                    )
                ]
            case RecordStep(order_id=order_id, step=SagaStep.RESERVE_STOCK):
                return _record_step(state, OrderStockReserved(order_id=order_id))
            case RecordPayment(order_id=order_id, payment_id=payment_id, amount=amount):
                paid = OrderPaymentProcessed(
                    order_id=order_id, payment_id=payment_id, amount=amount
                )
                return _record_step(state, paid)
            case RecordShipment(order_id=order_id, shipment_id=shipment_id):
                arranged = OrderShippingArranged(order_id=order_id, shipment_id=shipment_id)
                return _record_step(state, arranged)
            case RecordStep(order_id=order_id, step=SagaStep.CONFIRM_ORDER):
                return _record_step(state, OrderConfirmed(order_id=order_id))
            case RecordFraudCheck(order_id=order_id, verdict=verdict):
                if state.fraud_check is not None:
                    return []  # recorded before: the activity ran again
                if state.compensating or state.finished:
                    raise Conflict(f"order {order_id} is being cancelled", field="id")
                return [
                    OrderFraudChecked(
                        order_id=order_id, passed=verdict.passed, reason=verdict.reason
                    )
                ]
            case BeginCompensation(order_id=order_id, reason=reason, compensations=planned):
                if state.compensating or state.finished:
                    return []
                return [
                    OrderCompensationStarted(
                        order_id=order_id, reason=reason, compensations=planned
                    )
                ]
            case RecordCompensation(order_id=order_id, compensation=compensation):
                if compensation in state.compensated:
                    return []
                return [OrderStepCompensated(order_id=order_id, compensation=compensation)]
            case CloseOrder(order_id=order_id, outcome=outcome, reason=reason):
                if state.finished:
                    return []
                if outcome is OrderState.FAILED:
                    return [OrderFailed(order_id=order_id, reason=reason)]
                return [OrderCancelled(order_id=order_id, reason=reason)]
        raise TypeError(f"Order cannot decide {type(command).__name__}")


def _record_step(state: OrderProgress, recorded: OrderEvent) -> list[DomainEvent]:
    """`recorded`, the event of a forward step, unless the step was recorded before."""
    if state.saga.has_done(STEP_RECORDED_BY[type(recorded)]):
        return []  # recorded before: the activity ran again
    if state.compensating or state.finished:
        raise Conflict(f"order {recorded.order_id} is being cancelled", field="id")
    return [recorded]
