"""The order saga's activities as the workflow calls them: one input type each, one result.

`OrderSagaActivities` declares every activity with its signature; the worker
registers `activities.order_saga.SagaActivities`, which overrides each method,
so mypy checks both the workflow's calls and the implementations against these
declarations. Light on purpose: the workflow sandbox imports this module.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from temporalio import activity

from domain.orders import MAX_QUANTITY, PlaceOrder
from domain.saga import Compensation, OrderState
from workflows.contracts import CommandContext


class SagaCall(BaseModel):
    """What every saga activity gets: the order, and who placed it.

    Each activity derives its command id from the order id and its own name,
    so a retried activity changes nothing twice.
    """

    model_config = ConfigDict(frozen=True)

    order_id: str
    context: CommandContext


class PlaceOrderInput(SagaCall):
    order: PlaceOrder


class StockLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    product_id: str
    quantity: int = Field(ge=1, le=MAX_QUANTITY)


class StockInput(SagaCall):
    """Reserve (or release) these lines, all or none."""

    lines: tuple[StockLine, ...]


class PaymentInput(SagaCall):
    """A payment to take, or to check for fraud before it is taken."""

    amount: int
    customer_id: str


class ShipmentInput(SagaCall):
    units: int


class BeginCompensationInput(SagaCall):
    reason: str
    compensations: tuple[Compensation, ...]
    """The compensations to run, in the order they will run."""


class CloseOrderInput(SagaCall):
    outcome: OrderState
    """CANCELLED after the compensations ran, or FAILED when one could not."""
    reason: str


class StepResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    reference: str | None = None
    """What the step made, where it made something: a charge id, a shipment id."""


_DECLARED_ONLY = "declared for the workflow; the worker registers SagaActivities"


class OrderSagaActivities:
    """Every activity of the order saga. A refusal is an `ApplicationError` whose
    `type` is a `domain.saga.Refusal`; anything else is retried by the saga's policy."""

    @activity.defn
    async def place_order(self, call: PlaceOrderInput) -> StepResult:
        """Record the order (OrderPlaced); a repeat records nothing."""
        raise NotImplementedError(_DECLARED_ONLY)

    @activity.defn
    async def reserve_stock(self, call: StockInput) -> StepResult:
        """Reserve every line or none; OUT_OF_STOCK is a refusal."""
        raise NotImplementedError(_DECLARED_ONLY)

    @activity.defn
    async def check_fraud(self, call: PaymentInput) -> StepResult:
        """Record the fraud check's verdict (`domain.fraud`); FRAUD_SUSPECTED is a refusal."""
        raise NotImplementedError(_DECLARED_ONLY)

    @activity.defn
    async def process_payment(self, call: PaymentInput) -> StepResult:
        """Charge once per order; PAYMENT_DECLINED is a refusal. Returns the charge id."""
        raise NotImplementedError(_DECLARED_ONLY)

    @activity.defn
    async def arrange_shipping(self, call: ShipmentInput) -> StepResult:
        """Book the shipment; SHIPPING_REFUSED is a refusal. Returns the shipment id."""
        raise NotImplementedError(_DECLARED_ONLY)

    @activity.defn
    async def confirm_order(self, call: SagaCall) -> StepResult:
        raise NotImplementedError(_DECLARED_ONLY)

    @activity.defn
    async def begin_compensation(self, call: BeginCompensationInput) -> StepResult:
        raise NotImplementedError(_DECLARED_ONLY)

    @activity.defn
    async def release_stock(self, call: StockInput) -> StepResult:
        """Release each line's reservation; lines never reserved change nothing."""
        raise NotImplementedError(_DECLARED_ONLY)

    @activity.defn
    async def refund_payment(self, call: SagaCall) -> StepResult:
        """Refund the order's charge, if there is one."""
        raise NotImplementedError(_DECLARED_ONLY)

    @activity.defn
    async def cancel_shipment(self, call: SagaCall) -> StepResult:
        raise NotImplementedError(_DECLARED_ONLY)

    @activity.defn
    async def close_order(self, call: CloseOrderInput) -> StepResult:
        raise NotImplementedError(_DECLARED_ONLY)
