"""The order saga's vocabulary: its steps, the states and statuses it reports, its compensations.

Defined here once. The workflow, the activities, the orders read model and the
GraphQL enums (which wrap these classes) all take their terms from this module.
"""

from __future__ import annotations

from enum import StrEnum


class OrderState(StrEnum):
    """The last state an order reached (`sagaState.state`)."""

    STARTED = "STARTED"
    STOCK_RESERVED = "STOCK_RESERVED"
    PAYMENT_PROCESSED = "PAYMENT_PROCESSED"
    SHIPPING_ARRANGED = "SHIPPING_ARRANGED"
    CONFIRMED = "CONFIRMED"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"


class OrderStatus(StrEnum):
    """An order's `status`: PENDING until its saga reaches a state, then that `OrderState`."""

    PENDING = "PENDING"
    STARTED = "STARTED"
    STOCK_RESERVED = "STOCK_RESERVED"
    PAYMENT_PROCESSED = "PAYMENT_PROCESSED"
    SHIPPING_ARRANGED = "SHIPPING_ARRANGED"
    CONFIRMED = "CONFIRMED"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"

    @classmethod
    def of(cls, state: OrderState) -> OrderStatus:
        return cls(state.value)


class SagaStatus(StrEnum):
    """The saga's lifecycle; FAILED means an operator is needed."""

    RUNNING = "RUNNING"
    COMPENSATING = "COMPENSATING"
    COMPLETED = "COMPLETED"
    COMPENSATED = "COMPENSATED"
    FAILED = "FAILED"


class SagaStep(StrEnum):
    """The step under way: a forward step, or the compensation of one (`COMPENSATE_<step>`)."""

    RESERVE_STOCK = "RESERVE_STOCK"
    CHECK_FRAUD = "CHECK_FRAUD"
    PROCESS_PAYMENT = "PROCESS_PAYMENT"
    ARRANGE_SHIPPING = "ARRANGE_SHIPPING"
    CONFIRM_ORDER = "CONFIRM_ORDER"
    COMPENSATE_RESERVE_STOCK = "COMPENSATE_RESERVE_STOCK"
    COMPENSATE_PROCESS_PAYMENT = "COMPENSATE_PROCESS_PAYMENT"
    COMPENSATE_ARRANGE_SHIPPING = "COMPENSATE_ARRANGE_SHIPPING"


class Compensation(StrEnum):
    """What undoes a forward step."""

    RELEASE_STOCK = "RELEASE_STOCK"
    REFUND_PAYMENT = "REFUND_PAYMENT"
    CANCEL_SHIPMENT = "CANCEL_SHIPMENT"


FORWARD_STEPS: tuple[SagaStep, ...] = (
    SagaStep.RESERVE_STOCK,
    SagaStep.PROCESS_PAYMENT,
    SagaStep.ARRANGE_SHIPPING,
    SagaStep.CONFIRM_ORDER,
)
"""The steps that move an order's state, in the order the saga takes them."""

STEPS: tuple[SagaStep, ...] = (FORWARD_STEPS[0], SagaStep.CHECK_FRAUD, *FORWARD_STEPS[1:])
"""Every step the saga takes, in order: the forward steps and the fraud check, which
holds an order back but moves it nowhere (sagas started before it existed skip it)."""

REACHES: dict[SagaStep, OrderState] = {
    SagaStep.RESERVE_STOCK: OrderState.STOCK_RESERVED,
    SagaStep.PROCESS_PAYMENT: OrderState.PAYMENT_PROCESSED,
    SagaStep.ARRANGE_SHIPPING: OrderState.SHIPPING_ARRANGED,
    SagaStep.CONFIRM_ORDER: OrderState.CONFIRMED,
}
"""The state an order reaches when a forward step completes."""

COMPENSATION_OF: dict[SagaStep, Compensation] = {
    SagaStep.RESERVE_STOCK: Compensation.RELEASE_STOCK,
    SagaStep.PROCESS_PAYMENT: Compensation.REFUND_PAYMENT,
    SagaStep.ARRANGE_SHIPPING: Compensation.CANCEL_SHIPMENT,
}
"""What undoes each forward step; confirming is the last step and is never undone."""

COMPENSATING_STEP: dict[Compensation, SagaStep] = {
    Compensation.RELEASE_STOCK: SagaStep.COMPENSATE_RESERVE_STOCK,
    Compensation.REFUND_PAYMENT: SagaStep.COMPENSATE_PROCESS_PAYMENT,
    Compensation.CANCEL_SHIPMENT: SagaStep.COMPENSATE_ARRANGE_SHIPPING,
}
"""The `currentStep` reported while a compensation runs."""

FINAL_STATES = frozenset({OrderState.CONFIRMED, OrderState.CANCELLED, OrderState.FAILED})
"""States an order never leaves."""


def step_after(step: SagaStep) -> SagaStep | None:
    """The step that follows `step`, or None after the last one."""
    index = STEPS.index(step) + 1
    return STEPS[index] if index < len(STEPS) else None


class Refusal(StrEnum):
    """A step's final answer: it did nothing, and trying again would not change that.

    The saga compensates what came before, and never retries these.
    """

    OUT_OF_STOCK = "OUT_OF_STOCK"
    PAYMENT_DECLINED = "PAYMENT_DECLINED"
    SHIPPING_REFUSED = "SHIPPING_REFUSED"
    FRAUD_SUSPECTED = "FRAUD_SUSPECTED"
