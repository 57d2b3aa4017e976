"""The order saga's vocabulary (its steps, states, statuses and compensations) and its view.

Defined here once. The workflow, the activities, the orders read model and the
GraphQL enums (which wrap these classes) all take their terms from this module.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
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


# The saga's progress, and the view every reader takes of it -----------------


@dataclass(frozen=True)
class SagaProgress:
    """How far a saga has got with its order: what `saga_view` turns into its view.

    The workflow keeps one as it runs, the `Order` aggregate evolves one from the
    order's events, and the orders read model rebuilds one from its row; all
    three then read status, state and current step from `saga_view`, so none of
    them works those out on its own.
    """

    state: OrderState = OrderState.STARTED
    """The last state reached."""
    step: SagaStep | None = FORWARD_STEPS[0]
    """The forward step under way (or next), while the saga goes forward."""
    planned: tuple[Compensation, ...] | None = None
    """The compensations to run, in order, once compensation began; None before."""
    compensated: tuple[Compensation, ...] = ()
    """The compensations done, in the order they ran."""

    def begin(self, step: SagaStep) -> SagaProgress:
        """`step` is under way (a saga may pass over a step its era did not have)."""
        return replace(self, step=step)

    def complete(self, step: SagaStep) -> SagaProgress:
        """`step` completed: its state is reached (if it moves one) and the next step is due."""
        return replace(self, state=REACHES.get(step, self.state), step=step_after(step))

    def compensate(self, planned: tuple[Compensation, ...]) -> SagaProgress:
        return replace(self, planned=planned, step=None)

    def undo(self, compensation: Compensation) -> SagaProgress:
        """`compensation` ran; if its plan was never recorded (that bookkeeping may fail
        for good while compensations go on), the saga is compensating all the same."""
        planned = () if self.planned is None else self.planned
        return replace(
            self, planned=planned, step=None, compensated=(*self.compensated, compensation)
        )

    def close(self, outcome: OrderState) -> SagaProgress:
        """The order ended `outcome` (CANCELLED or FAILED)."""
        return replace(self, state=outcome, step=None)

    def has_done(self, step: SagaStep) -> bool:
        """Whether the forward step `step` completed (forward steps complete in order)."""
        reached = [REACHES[forward] for forward in FORWARD_STEPS]
        return self.state in reached and reached.index(self.state) >= FORWARD_STEPS.index(step)

    def compensations_due(self, *, in_doubt: bool) -> tuple[Compensation, ...]:
        """What undoes the steps done, last first; with the step under way when `in_doubt`.

        A step under way is in doubt when it may have had an effect (it timed
        out, or was cancelled while running): a payment that timed out may have
        been charged, so it is refunded too.
        """
        done = [step for step in FORWARD_STEPS if self.has_done(step)]
        if in_doubt and self.step is not None:
            done.append(self.step)
        return tuple(COMPENSATION_OF[step] for step in reversed(done) if step in COMPENSATION_OF)


@dataclass(frozen=True)
class SagaView:
    """What an order's saga looks like from outside: GraphQL's `status` and `sagaState`."""

    status: OrderStatus
    state: OrderState
    saga_status: SagaStatus
    current_step: SagaStep | None
    to_compensate: tuple[Compensation, ...]
    """The planned compensations not yet done, in the order they will run."""

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES


_ENDED_AS: dict[OrderState, SagaStatus] = {
    OrderState.CONFIRMED: SagaStatus.COMPLETED,
    OrderState.CANCELLED: SagaStatus.COMPENSATED,
    OrderState.FAILED: SagaStatus.FAILED,
}


def saga_view(progress: SagaProgress) -> SagaView:
    """The one place an order's status, saga status and current step are worked out."""
    remaining = tuple(c for c in progress.planned or () if c not in progress.compensated)
    current: SagaStep | None
    if progress.state in FINAL_STATES:
        saga_status, current = _ENDED_AS[progress.state], None
    elif progress.planned is not None:
        saga_status = SagaStatus.COMPENSATING
        current = COMPENSATING_STEP[remaining[0]] if remaining else None
    else:
        saga_status, current = SagaStatus.RUNNING, progress.step
    started = progress.state is OrderState.STARTED
    return SagaView(
        status=OrderStatus.PENDING if started else OrderStatus.of(progress.state),
        state=progress.state,
        saga_status=saga_status,
        current_step=current,
        to_compensate=remaining,
    )
