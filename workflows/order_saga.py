"""`OrderSaga`: reserve stock → check for fraud → take payment → arrange shipping → confirm.

On a refusal, a timeout or `cancel_order`, it compensates in reverse the steps
that succeeded and the step that was in flight (a payment that timed out may
have been charged), then ends the order CANCELLED and completes normally. Only
a compensation that is refused for good or runs past its deadline ends the
order FAILED and fails the workflow: in the Temporal UI, a failed OrderSaga is
an order that needs an operator.

The bookkeeping around the compensations (recording that they began, closing
the order) never stands in their way: if it fails for good, the compensations
run anyway, and the order is closed with a plain reason when its own reason
cannot be stored. An order the saga cannot close at all fails the workflow,
which is the operator's signal.

Longer than our usual module: one workflow class, kept whole so the saga reads
top to bottom (its run, its steps, its compensation, its messages).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import NoReturn, TypedDict, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, FailureError, TimeoutError
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from domain.saga import (
        Compensation,
        OrderState,
        OrderStatus,
        Refusal,
        SagaProgress,
        SagaStep,
        saga_view,
    )
    from workflows.contracts import (
        CANCEL_UPDATE,
        ORDER_NEEDS_OPERATOR,
        ORDER_SAGA,
        ORDER_STATUS,
        PLACED_UPDATE,
        STATE_QUERY,
        CancelOrderRequest,
        CommandContext,
        OrderSagaInput,
        SagaSnapshot,
    )
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

REFUSALS = [refusal.value for refusal in Refusal]

LOCAL_DATABASE_STEPS = "local-database-steps"
"""The patch that made the steps that only touch our database local activities.

They run in the worker that runs the saga, with no round trip through the
Temporal server and no activity task events in the history: about a third of
a step's latency. The payment stays a regular activity on its own task queue
(it calls out, and may be routed to its own workers), and so do the
compensations. Sagas whose history predates the patch keep scheduling regular
activities on the inventory and shipping queues when they replay; once none
of them runs, `workflow.deprecate_patch(LOCAL_DATABASE_STEPS)` replaces the
check (docs/changing-things-safely.md).
"""

FRAUD_CHECK = "fraud-check"
"""The patch that added the fraud check between the stock and the payment.

Sagas whose history predates it go straight from the stock to the payment when
they replay, as they did when they ran; sagas started after it take the check.
Once none of the older ones runs, `workflow.deprecate_patch(FRAUD_CHECK)`
replaces the check (docs/changing-things-safely.md).
"""

UNRECORDED_REASON = "the saga's reason could not be recorded; see its workflow in Temporal"
"""Closes an order whose own reason the database refused (the workflow keeps the reason)."""

CallT = TypeVar("CallT", bound=SagaCall)
Activity = Callable[[OrderSagaActivities, CallT], Awaitable[StepResult]]


class _CallFields(TypedDict):
    order_id: str
    context: CommandContext


class StepNotDone(Exception):
    """A forward step did not complete; the saga compensates instead of going on.

    `in_doubt` when the step may have had an effect (it timed out, or was
    cancelled while running), so its own compensation runs too.
    """

    def __init__(self, step: SagaStep, reason: str, *, in_doubt: bool) -> None:
        super().__init__(reason)
        self.step = step
        self.reason = reason
        self.in_doubt = in_doubt


@workflow.defn(name=ORDER_SAGA)
class OrderSaga:
    @workflow.init
    def __init__(self, saga: OrderSagaInput) -> None:
        self._saga = saga
        self._progress = SagaProgress()
        self._failure_reason: str | None = None
        self._placed = False
        self._finished = False
        self._cancel_reason: str | None = None

    @workflow.run
    async def run(self, saga: OrderSagaInput) -> SagaSnapshot:
        await self._place_order()
        try:
            await self._reserve_stock()
            if workflow.patched(FRAUD_CHECK):
                await self._check_fraud()
            await self._process_payment()
            await self._arrange_shipping()
            await self._confirm_order()
        except StepNotDone as stopped:
            planned = self._progress.compensations_due(in_doubt=stopped.in_doubt)
            return await self._compensate(stopped.reason, planned)
        _count("order_sagas_confirmed", "Order sagas that confirmed their order.")
        return await self._finish()

    # The steps --------------------------------------------------------------

    async def _place_order(self) -> None:
        """Record the order; the `placed` update (createOrder) answers after this."""
        timeouts = self._saga.timeouts
        await workflow.execute_local_activity_method(
            OrderSagaActivities.place_order,
            PlaceOrderInput(**self._call(), order=self._saga.order),
            start_to_close_timeout=_seconds(timeouts.step_seconds),
            schedule_to_close_timeout=_seconds(timeouts.step_deadline_seconds),
            retry_policy=self._retry(),
        )
        self._placed = True
        self._set_status(OrderStatus.PENDING)
        _count("order_sagas_started", "Order sagas whose order was placed.")

    async def _reserve_stock(self) -> None:
        await self._step(
            SagaStep.RESERVE_STOCK,
            OrderSagaActivities.reserve_stock,
            self._stock(),
            task_queue=self._saga.queues.inventory,
            deadline=self._saga.timeouts.step_deadline_seconds,
            local=True,
        )

    async def _check_fraud(self) -> None:
        """Hold back an order the fraud check refuses; the stock it reserved is released."""
        await self._step(
            SagaStep.CHECK_FRAUD,
            OrderSagaActivities.check_fraud,
            self._payment(),
            task_queue=self._saga.queues.orders,
            deadline=self._saga.timeouts.step_deadline_seconds,
            local=True,
        )

    async def _process_payment(self) -> None:
        await self._step(
            SagaStep.PROCESS_PAYMENT,
            OrderSagaActivities.process_payment,
            self._payment(),
            task_queue=self._saga.queues.payments,
            deadline=self._saga.timeouts.payment_deadline_seconds,
        )

    async def _arrange_shipping(self) -> None:
        units = sum(item.quantity for item in self._saga.order.items)
        await self._step(
            SagaStep.ARRANGE_SHIPPING,
            OrderSagaActivities.arrange_shipping,
            ShipmentInput(**self._call(), units=units),
            task_queue=self._saga.queues.shipping,
            deadline=self._saga.timeouts.step_deadline_seconds,
            local=True,
        )

    async def _confirm_order(self) -> None:
        await self._step(
            SagaStep.CONFIRM_ORDER,
            OrderSagaActivities.confirm_order,
            SagaCall(**self._call()),
            task_queue=self._saga.queues.orders,
            deadline=self._saga.timeouts.step_deadline_seconds,
            cancellable=False,
            local=True,
        )

    async def _step(
        self,
        step: SagaStep,
        activity: Activity[CallT],
        call: CallT,
        *,
        task_queue: str,
        deadline: float,
        cancellable: bool = True,
        local: bool = False,
    ) -> None:
        """Run one forward step; a cancel request cancels it (and waits for it to stop).

        `local` steps only touch our database: they run as local activities
        (see `LOCAL_DATABASE_STEPS`). Raises `StepNotDone` when the saga must
        compensate instead of going on.
        """
        if self._cancel_reason is not None:
            raise StepNotDone(step, self._cancel_reason, in_doubt=False)
        self._progress = self._progress.begin(step)
        attempt = _seconds(self._saga.timeouts.step_seconds)
        wait = ActivityCancellationType.WAIT_CANCELLATION_COMPLETED
        handle: workflow.ActivityHandle[StepResult]
        if local and workflow.patched(LOCAL_DATABASE_STEPS):
            handle = workflow.start_local_activity_method(
                activity,
                call,
                start_to_close_timeout=attempt,
                schedule_to_close_timeout=_seconds(deadline),
                retry_policy=self._retry(),
                cancellation_type=wait,
            )
        else:
            handle = workflow.start_activity_method(
                activity,
                call,
                task_queue=task_queue,
                start_to_close_timeout=attempt,
                schedule_to_close_timeout=_seconds(deadline),
                retry_policy=self._retry(),
                cancellation_type=wait,
            )
        if cancellable:
            await workflow.wait_condition(lambda: handle.done() or self._cancel_reason is not None)
            if not handle.done():
                handle.cancel()
        try:
            await handle
        except FailureError as error:  # a local activity's failure arrives unwrapped
            # A refusal means the step did nothing; anything else (a timeout,
            # a cancellation) may have had an effect, so it is undone too.
            reason = self._cancel_reason or _describe(step, error)
            raise StepNotDone(step, reason, in_doubt=not _is_refusal(error)) from None
        reached = self._progress.state
        self._progress = self._progress.complete(step)
        if self._progress.state is not reached:  # the fraud check moves an order nowhere
            self._set_status(OrderStatus.of(self._progress.state))

    # Compensation -----------------------------------------------------------

    async def _compensate(self, reason: str, planned: tuple[Compensation, ...]) -> SagaSnapshot:
        """Undo `planned` in order; CANCELLED when all are done, FAILED (and raise) when one
        cannot be."""
        self._progress = self._progress.compensate(planned)
        self._failure_reason = reason
        # A record of what is about to happen; the compensations matter more than it.
        await self._bookkeep(
            OrderSagaActivities.begin_compensation,
            BeginCompensationInput(**self._call(), reason=reason, compensations=planned),
        )
        for compensation in planned:
            try:
                await self._undo(compensation)
            except ActivityError as error:
                await self._fail(f"{reason}; then {compensation} failed: {_cause(error)}", error)
            self._progress = self._progress.undo(compensation)
        if not await self._close(OrderState.CANCELLED, reason):
            await self._fail(f"{reason}; compensated, but the order could not be closed", None)
        _count("order_sagas_compensated", "Order sagas that cancelled their order.")
        return await self._finish(OrderState.CANCELLED)

    async def _fail(self, failure: str, cause: BaseException | None) -> NoReturn:
        """End the order FAILED and fail the workflow: an operator must finish it."""
        closed = await self._close(OrderState.FAILED, failure)
        _count("order_sagas_failed", "Order sagas that need an operator.")
        self._failure_reason = failure
        await self._finish(OrderState.FAILED)
        unclosed = "" if closed else " (the order could not be marked FAILED either)"
        raise ApplicationError(
            f"order {self._saga.order.order_id} needs an operator: {failure}{unclosed}",
            type=ORDER_NEEDS_OPERATOR,
            non_retryable=True,
        ) from cause

    async def _undo(self, compensation: Compensation) -> None:
        queues = self._saga.queues
        match compensation:
            case Compensation.RELEASE_STOCK:
                await self._run_activity(
                    OrderSagaActivities.release_stock, self._stock(), queues.inventory
                )
            case Compensation.REFUND_PAYMENT:
                await self._run_activity(
                    OrderSagaActivities.refund_payment, SagaCall(**self._call()), queues.payments
                )
            case Compensation.CANCEL_SHIPMENT:
                await self._run_activity(
                    OrderSagaActivities.cancel_shipment, SagaCall(**self._call()), queues.shipping
                )

    async def _close(self, outcome: OrderState, reason: str) -> bool:
        """Close the order `outcome`; with a plain reason if its own cannot be stored.

        False when it could not be closed at all.
        """
        for recorded in (reason, UNRECORDED_REASON):
            close = CloseOrderInput(**self._call(), outcome=outcome, reason=recorded)
            if await self._bookkeep(OrderSagaActivities.close_order, close):
                return True
        return False

    async def _bookkeep(self, activity: Activity[CallT], call: CallT) -> bool:
        """Run a bookkeeping activity; False, and a warning, when it fails for good."""
        try:
            await self._run_activity(activity, call)
        except ActivityError as error:
            workflow.logger.warning(
                "saga bookkeeping failed for good: %s: %s", error.activity_type, _cause(error)
            )
            return False
        return True

    async def _run_activity(
        self, activity: Activity[CallT], call: CallT, task_queue: str | None = None
    ) -> None:
        """Run a compensation or a bookkeeping activity, retried up to its deadline."""
        timeouts = self._saga.timeouts
        await workflow.execute_activity_method(
            activity,
            call,
            task_queue=task_queue or self._saga.queues.orders,
            start_to_close_timeout=_seconds(timeouts.step_seconds),
            schedule_to_close_timeout=_seconds(timeouts.compensation_deadline_seconds),
            retry_policy=self._retry(),
        )

    async def _finish(self, outcome: OrderState | None = None) -> SagaSnapshot:
        """End the saga; `outcome` closes an order the saga did not confirm."""
        if outcome is not None:
            self._progress = self._progress.close(outcome)
            self._set_status(OrderStatus.of(outcome))
        self._finished = True
        # Let a waiting cancel_order update answer before the workflow closes.
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._snapshot

    # Messages ---------------------------------------------------------------

    @workflow.update(name=PLACED_UPDATE)
    async def placed(self) -> SagaSnapshot:
        """Answers once the order is recorded: what `createOrder` waits for."""
        await workflow.wait_condition(lambda: self._placed or self._finished)
        return self._snapshot

    @workflow.update(name=CANCEL_UPDATE)
    async def cancel_order(self, request: CancelOrderRequest) -> SagaSnapshot:
        """Compensate whatever was done; answers with the final state."""
        if self._cancel_reason is None:
            self._cancel_reason = request.reason
        await workflow.wait_condition(lambda: self._finished)
        return self._snapshot

    @cancel_order.validator
    def _may_cancel(self, request: CancelOrderRequest) -> None:
        confirming = self._snapshot.current_step is SagaStep.CONFIRM_ORDER
        if self._finished or confirming or self._snapshot.state is OrderState.CONFIRMED:
            raise ApplicationError(
                f"order {self._saga.order.order_id} is {self._snapshot.state.value.lower()}"
                " and can no longer be cancelled",
                type="CONFLICT",
            )

    @workflow.query(name=STATE_QUERY)
    def state(self) -> SagaSnapshot:
        return self._snapshot

    # Helpers ----------------------------------------------------------------

    def _call(self) -> _CallFields:
        """The fields every activity input starts with."""
        return {"order_id": self._saga.order.order_id, "context": self._saga.context}

    def _stock(self) -> StockInput:
        lines = tuple(
            StockLine(product_id=item.product_id, quantity=item.quantity)
            for item in self._saga.order.items
        )
        return StockInput(**self._call(), lines=lines)

    def _payment(self) -> PaymentInput:
        order = self._saga.order
        return PaymentInput(**self._call(), amount=order.total_amount, customer_id=order.user_id)

    @property
    def _snapshot(self) -> SagaSnapshot:
        view = saga_view(self._progress)
        return SagaSnapshot(
            order_id=self._saga.order.order_id,
            status=view.saga_status,
            state=view.state,
            current_step=view.current_step,
            failure_reason=self._failure_reason,
            compensations=self._progress.compensated,
        )

    def _set_status(self, status: OrderStatus) -> None:
        workflow.upsert_search_attributes([ORDER_STATUS.value_set(status.value)])

    def _retry(self) -> RetryPolicy:
        timeouts = self._saga.timeouts
        return RetryPolicy(
            initial_interval=_seconds(timeouts.retry_initial_seconds),
            backoff_coefficient=2.0,
            maximum_interval=_seconds(timeouts.retry_max_seconds),
            non_retryable_error_types=REFUSALS,
        )


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


def _count(name: str, description: str) -> None:
    """Add one to a counter through the workflow's meter, which skips replays."""
    workflow.metric_meter().create_counter(name, description).add(1)


def _root(error: FailureError) -> BaseException | None:
    """What went wrong: an activity's error wraps it, a local activity's is it."""
    return error.cause if isinstance(error, ActivityError) else error


def _is_refusal(error: FailureError) -> bool:
    cause = _root(error)
    return isinstance(cause, ApplicationError) and cause.type in REFUSALS


def _cause(error: FailureError) -> str:
    cause = _root(error)
    if isinstance(cause, TimeoutError):
        return "timed out"
    if isinstance(cause, FailureError) and cause.message:
        return cause.message
    return str(error)


def _describe(step: SagaStep, error: FailureError) -> str:
    if _is_refusal(error):
        return _cause(error)
    return f"{step.value.lower().replace('_', ' ')} did not complete: {_cause(error)}"
