"""Every branch of OrderSaga, with stubbed activities.

The end-to-end tests in tests/e2e/ run the real activities (PostgreSQL, the
payment simulator) behind the API, so they reach only the branches the real
system can be pushed into, and slowly. Here each activity is a stub that records
its calls, so every branch (each refusal, a payment that times out, a cancel
during each step, a cancel refused while confirming, a compensation that never
succeeds) is pinned down exactly: which activities ran, in what order, with
what inputs, and what the saga reported at the end.

Longer than our usual module: the stub class overrides each of the eleven
activities with its declared signature, so mypy checks the stubs too.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowFailureError, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.orders import OrderItem, PlaceOrder
from domain.saga import Compensation, OrderState, Refusal, SagaStatus
from workflows.contracts import (
    CANCEL_UPDATE,
    ORDER_NEEDS_OPERATOR,
    CancelOrderRequest,
    CommandContext,
    OrderSagaInput,
    SagaSnapshot,
    SagaTimeouts,
    TaskQueues,
)
from workflows.order_saga import UNRECORDED_REASON, OrderSaga
from workflows.saga_activities import (
    BeginCompensationInput,
    CloseOrderInput,
    OrderSagaActivities,
    PaymentInput,
    PlaceOrderInput,
    SagaCall,
    ShipmentInput,
    StepResult,
    StockInput,
    StockLine,
)

TIMEOUTS = SagaTimeouts(
    step_seconds=1,
    step_deadline_seconds=3,
    payment_deadline_seconds=2,
    compensation_deadline_seconds=2,
    retry_initial_seconds=0.05,
    retry_max_seconds=0.2,
)
FORWARD = [
    "place_order",
    "reserve_stock",
    "check_fraud",
    "process_payment",
    "arrange_shipping",
    "confirm_order",
]
UNDOES = {
    Compensation.RELEASE_STOCK: "release_stock",
    Compensation.REFUND_PAYMENT: "refund_payment",
    Compensation.CANCEL_SHIPMENT: "cancel_shipment",
}
RELEASE = Compensation.RELEASE_STOCK
REFUND = Compensation.REFUND_PAYMENT
CANCEL_SHIPMENT = Compensation.CANCEL_SHIPMENT

Behaviour = Callable[[], Awaitable[object]]
CallT = TypeVar("CallT", bound=SagaCall)


async def hang() -> None:
    """An attempt that never answers, and never heartbeats (no saga activity does)."""
    await asyncio.sleep(60)


def pause(seconds: float) -> Behaviour:
    """An attempt that takes a while, within its timeout, then succeeds."""

    async def behave() -> None:
        await asyncio.sleep(seconds)

    return behave


async def down() -> None:
    raise RuntimeError("the service is down")


def refuse(refusal: Refusal | str) -> Behaviour:
    async def behave() -> None:
        raise ApplicationError(f"refused: {refusal}", type=str(refusal), non_retryable=True)

    return behave


@dataclass(frozen=True)
class Call:
    name: str
    attempt: int
    input: SagaCall


class Stubs(OrderSagaActivities):
    """Every saga activity; each records its call, then succeeds unless given a behaviour."""

    def __init__(self, **behaviours: Behaviour) -> None:
        self.behaviours = behaviours
        self.calls: list[Call] = []
        self.entered: defaultdict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self.cancelled: list[str] = []

    def activities(self) -> list[Callable[..., Any]]:
        return [
            getattr(self, name)
            for name in [*FORWARD, "begin_compensation", *UNDOES.values(), "close_order"]
        ]

    def names(self) -> list[str]:
        """The activities that ran, in order; the retries of one count once."""
        return [call.name for call in self.calls if call.attempt == 1]

    def attempts(self, name: str) -> list[int]:
        return [call.attempt for call in self.calls if call.name == name]

    def input_of(self, name: str, kind: type[CallT]) -> CallT:
        """The input `name` got, the same on every attempt."""
        first, *retries = [call.input for call in self.calls if call.name == name]
        assert isinstance(first, kind) and all(retry == first for retry in retries)
        return first

    async def _run(self, call: SagaCall) -> StepResult:
        info = activity.info()
        self.calls.append(Call(info.activity_type, info.attempt, call))
        self.entered[info.activity_type].set()
        behaviour = self.behaviours.get(info.activity_type)
        try:
            if behaviour is not None:
                await behaviour()
        except asyncio.CancelledError:
            self.cancelled.append(info.activity_type)
            raise
        return StepResult(reference=f"{info.activity_type}-{call.order_id}")

    @activity.defn
    async def place_order(self, call: PlaceOrderInput) -> StepResult:
        return await self._run(call)

    @activity.defn
    async def reserve_stock(self, call: StockInput) -> StepResult:
        return await self._run(call)

    @activity.defn
    async def check_fraud(self, call: PaymentInput) -> StepResult:
        return await self._run(call)

    @activity.defn
    async def process_payment(self, call: PaymentInput) -> StepResult:
        return await self._run(call)

    @activity.defn
    async def arrange_shipping(self, call: ShipmentInput) -> StepResult:
        return await self._run(call)

    @activity.defn
    async def confirm_order(self, call: SagaCall) -> StepResult:
        return await self._run(call)

    @activity.defn
    async def begin_compensation(self, call: BeginCompensationInput) -> StepResult:
        return await self._run(call)

    @activity.defn
    async def release_stock(self, call: StockInput) -> StepResult:
        return await self._run(call)

    @activity.defn
    async def refund_payment(self, call: SagaCall) -> StepResult:
        return await self._run(call)

    @activity.defn
    async def cancel_shipment(self, call: SagaCall) -> StepResult:
        return await self._run(call)

    @activity.defn
    async def close_order(self, call: CloseOrderInput) -> StepResult:
        return await self._run(call)


def saga_input(queue: str, timeouts: SagaTimeouts = TIMEOUTS) -> OrderSagaInput:
    command_id = str(uuid.uuid4())
    items = [
        OrderItem(product_id="pen", product_name="Pen", quantity=2, price=300),
        OrderItem(product_id="ink", product_name="Ink", quantity=1, price=1200),
    ]
    return OrderSagaInput(
        order=PlaceOrder(order_id=f"o-{uuid.uuid4()}", user_id="u-1", items=items),
        context=CommandContext(command_id=command_id, correlation_id=command_id),
        queues=TaskQueues(orders=queue, inventory=queue, payments=queue, shipping=queue),
        timeouts=timeouts,
    )


@asynccontextmanager
async def running(
    env: WorkflowEnvironment, stubs: Stubs, timeouts: SagaTimeouts = TIMEOUTS
) -> AsyncIterator[WorkflowHandle[OrderSaga, SagaSnapshot]]:
    """A saga started on a worker of its own, which runs until the block ends."""
    queue = f"test-saga-{uuid.uuid4()}"
    async with Worker(
        env.client, task_queue=queue, workflows=[OrderSaga], activities=stubs.activities()
    ):
        yield await env.client.start_workflow(
            OrderSaga.run,
            saga_input(queue, timeouts),
            id=f"test-saga-{uuid.uuid4()}",
            task_queue=queue,
        )


def up_to(last: str) -> list[str]:
    """The forward activities, up to and including `last`."""
    return FORWARD[: FORWARD.index(last) + 1]


def ended(stubs: Stubs, snapshot: SagaSnapshot, status: SagaStatus, state: OrderState) -> None:
    """The saga ended `status`, after closing the order `state` for the reason it reports."""
    close = stubs.input_of("close_order", CloseOrderInput)
    assert (close.outcome, close.reason) == (state, snapshot.failure_reason)
    assert snapshot.failure_reason is not None
    assert (snapshot.status, snapshot.state, snapshot.current_step) == (status, state, None)


def compensated(
    stubs: Stubs, snapshot: SagaSnapshot, last: str, undone: tuple[Compensation, ...]
) -> None:
    """The steps up to `last` ran, then `undone` was announced and run in that order."""
    done = up_to(last)
    undoing = [UNDOES[compensation] for compensation in undone]
    assert stubs.names() == [*done, "begin_compensation", *undoing, "close_order"]
    assert stubs.input_of("begin_compensation", BeginCompensationInput).compensations == undone
    assert snapshot.compensations == undone
    ended(stubs, snapshot, SagaStatus.COMPENSATED, OrderState.CANCELLED)


async def test_all_four_steps_confirm_the_order(temporal_env):
    stubs = Stubs()
    async with running(temporal_env, stubs) as handle:
        snapshot = await handle.result()

    assert stubs.names() == FORWARD
    assert stubs.input_of("reserve_stock", StockInput).lines == (
        StockLine(product_id="pen", quantity=2),
        StockLine(product_id="ink", quantity=1),
    )
    payment = stubs.input_of("process_payment", PaymentInput)
    assert (payment.amount, payment.customer_id) == (2 * 300 + 1200, "u-1")
    assert stubs.input_of("check_fraud", PaymentInput) == payment
    assert stubs.input_of("arrange_shipping", ShipmentInput).units == 3
    assert snapshot == SagaSnapshot(
        order_id=payment.order_id, status=SagaStatus.COMPLETED, state=OrderState.CONFIRMED
    )


@pytest.mark.parametrize(
    ("refused", "refusal", "undone"),
    [
        ("reserve_stock", Refusal.OUT_OF_STOCK, ()),
        ("check_fraud", Refusal.FRAUD_SUSPECTED, (RELEASE,)),
        ("process_payment", Refusal.PAYMENT_DECLINED, (RELEASE,)),
        ("arrange_shipping", Refusal.SHIPPING_REFUSED, (REFUND, RELEASE)),
    ],
)
async def test_a_refusal_undoes_only_the_steps_before_it(temporal_env, refused, refusal, undone):
    stubs = Stubs(**{refused: refuse(refusal)})
    async with running(temporal_env, stubs) as handle:
        snapshot = await handle.result()

    compensated(stubs, snapshot, refused, undone)
    assert stubs.attempts(refused) == [1]  # a refusal is never retried


@pytest.mark.parametrize("payment", [hang, down], ids=["hangs", "keeps-failing"])
async def test_a_payment_that_runs_past_its_deadline_is_refunded_too(temporal_env, payment):
    stubs = Stubs(process_payment=payment)  # it may have charged before going quiet
    # Room for a second attempt after the first times out, on however busy a machine.
    patient = TIMEOUTS.model_copy(update={"payment_deadline_seconds": 4})
    async with running(temporal_env, stubs, patient) as handle:
        snapshot = await handle.result()

    compensated(stubs, snapshot, "process_payment", (REFUND, RELEASE))
    assert len(stubs.attempts("process_payment")) > 1  # retried up to the payment deadline


async def test_a_cancel_during_the_payment_undoes_the_payment_too(temporal_env):
    step, undone = "process_payment", (REFUND, RELEASE)
    stubs = Stubs(**{step: hang})
    async with running(temporal_env, stubs) as handle:
        await stubs.entered[step].wait()
        answer = await handle.execute_update(
            CANCEL_UPDATE, CancelOrderRequest(reason="changed my mind"), result_type=SagaSnapshot
        )
        snapshot = await handle.result()
        history = await handle.fetch_history()
        # No saga activity heartbeats, so the cancel request never reaches the running
        # attempt: the saga waits for it to time out (step_seconds), and does not retry it.
        assert stubs.cancelled == []

    assert answer == snapshot
    compensated(stubs, snapshot, step, undone)
    assert snapshot.failure_reason == "changed my mind"
    assert stubs.attempts(step) == [1]
    timed_out = EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT
    assert [event.event_type for event in history.events].count(timed_out) == 1


async def test_a_cancel_during_a_local_step_is_taken_when_the_step_ends(temporal_env):
    """Local steps (`LOCAL_DATABASE_STEPS`) run inside the saga's workflow task: a cancel
    sent meanwhile reaches the saga once the step has ended, and undoes it too."""
    stubs = Stubs(reserve_stock=pause(0.5), process_payment=hang)
    async with running(temporal_env, stubs) as handle:
        await stubs.entered["reserve_stock"].wait()
        answer = await handle.execute_update(
            CANCEL_UPDATE, CancelOrderRequest(reason="changed my mind"), result_type=SagaSnapshot
        )
        snapshot = await handle.result()

    assert answer == snapshot
    assert stubs.attempts("reserve_stock") == [1]
    assert stubs.attempts("process_payment") == [1]
    compensated(stubs, snapshot, "process_payment", (REFUND, RELEASE))
    assert snapshot.failure_reason == "changed my mind"


async def test_a_cancel_while_confirming_is_refused_and_the_order_confirms(temporal_env):
    stubs = Stubs(confirm_order=pause(0.5))
    async with running(temporal_env, stubs) as handle:
        await stubs.entered["confirm_order"].wait()
        with pytest.raises((WorkflowUpdateFailedError, RPCError)) as refused:
            await handle.execute_update(
                CANCEL_UPDATE, CancelOrderRequest(reason="too late"), result_type=SagaSnapshot
            )
        snapshot = await handle.result()

    # Confirming is a local step: the cancel reaches the saga while it confirms (and
    # is refused), or once it has confirmed and closed (no saga left to cancel; the
    # API answers both as a CONFLICT).
    if isinstance(refused.value, WorkflowUpdateFailedError):
        assert isinstance(refused.value.cause, ApplicationError)
        assert refused.value.cause.type == "CONFLICT"
    else:
        assert refused.value.status is RPCStatusCode.NOT_FOUND
    assert stubs.names() == FORWARD
    assert (snapshot.status, snapshot.state) == (SagaStatus.COMPLETED, OrderState.CONFIRMED)
    assert snapshot.failure_reason is None


@pytest.mark.parametrize(
    "refund", [down, refuse("REFUND_REJECTED")], ids=["past-its-deadline", "refused-for-good"]
)
async def test_a_compensation_that_cannot_be_done_fails_the_order(temporal_env, refund):
    stubs = Stubs(arrange_shipping=refuse(Refusal.SHIPPING_REFUSED), refund_payment=refund)
    async with running(temporal_env, stubs) as handle:
        with pytest.raises(WorkflowFailureError) as failed:
            await handle.result()
        snapshot = await handle.query(OrderSaga.state)

    assert isinstance(failed.value.cause, ApplicationError)
    assert failed.value.cause.type == ORDER_NEEDS_OPERATOR
    # Nothing runs after the refund that could not be done: the stock stays reserved
    # for the operator to see.
    assert stubs.names() == [
        *up_to("arrange_shipping"),
        "begin_compensation",
        "refund_payment",
        "close_order",
    ]
    assert snapshot.compensations == ()
    ended(stubs, snapshot, SagaStatus.FAILED, OrderState.FAILED)


def refuse_first(refusal: str) -> Behaviour:
    """Refused for good the first time (bad data, say), done the next."""
    calls = 0

    async def behave() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            await refuse(refusal)()

    return behave


def close_inputs(stubs: Stubs) -> list[CloseOrderInput]:
    closes = [call.input for call in stubs.calls if call.name == "close_order"]
    assert all(isinstance(close, CloseOrderInput) for close in closes)
    return closes  # type: ignore[return-value]


async def test_compensations_run_when_recording_their_start_fails_for_good(temporal_env):
    stubs = Stubs(
        process_payment=refuse(Refusal.PAYMENT_DECLINED),
        begin_compensation=refuse("INVALID_INPUT"),
    )
    async with running(temporal_env, stubs) as handle:
        snapshot = await handle.result()

    assert stubs.names() == [
        *up_to("process_payment"),
        "begin_compensation",
        "release_stock",
        "close_order",
    ]
    assert stubs.attempts("begin_compensation") == [1]
    assert snapshot.compensations == (RELEASE,)
    ended(stubs, snapshot, SagaStatus.COMPENSATED, OrderState.CANCELLED)


async def test_an_order_whose_reason_cannot_be_stored_is_closed_with_a_plain_one(temporal_env):
    stubs = Stubs(
        process_payment=refuse(Refusal.PAYMENT_DECLINED), close_order=refuse_first("INVALID_INPUT")
    )
    async with running(temporal_env, stubs) as handle:
        snapshot = await handle.result()

    first, second = close_inputs(stubs)
    assert (first.outcome, second.outcome) == (OrderState.CANCELLED, OrderState.CANCELLED)
    assert first.reason == snapshot.failure_reason
    assert second.reason == UNRECORDED_REASON
    assert (snapshot.status, snapshot.state) == (SagaStatus.COMPENSATED, OrderState.CANCELLED)
    assert snapshot.compensations == (RELEASE,)


async def test_an_order_that_cannot_be_closed_is_compensated_and_fails_for_an_operator(
    temporal_env,
):
    stubs = Stubs(
        arrange_shipping=refuse(Refusal.SHIPPING_REFUSED), close_order=refuse("INVALID_INPUT")
    )
    async with running(temporal_env, stubs) as handle:
        with pytest.raises(WorkflowFailureError) as failed:
            await handle.result()
        snapshot = await handle.query(OrderSaga.state)

    # Every compensation ran: nothing stays reserved or charged.
    assert stubs.names()[:8] == [
        *up_to("arrange_shipping"),
        "begin_compensation",
        "refund_payment",
        "release_stock",
    ]
    assert snapshot.compensations == (REFUND, RELEASE)
    # CANCELLED, then FAILED, each with its reason and then the plain one.
    outcomes = [(close.outcome, close.reason == UNRECORDED_REASON) for close in close_inputs(stubs)]
    assert outcomes == [
        (OrderState.CANCELLED, False),
        (OrderState.CANCELLED, True),
        (OrderState.FAILED, False),
        (OrderState.FAILED, True),
    ]
    assert isinstance(failed.value.cause, ApplicationError)
    assert failed.value.cause.type == ORDER_NEEDS_OPERATOR
    assert "could not be marked FAILED" in failed.value.cause.message
    assert (snapshot.status, snapshot.state) == (SagaStatus.FAILED, OrderState.FAILED)
