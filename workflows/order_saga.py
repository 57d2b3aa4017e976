"""`OrderSaga`: reserve stock → take payment → arrange shipping → confirm.

On a business refusal, a timeout or `cancel_order`, it compensates in reverse
the steps that succeeded and the step that was in flight (a payment that timed
out may have been charged), then ends the order CANCELLED and completes
normally. Only a compensation that is refused for good or runs past its
deadline ends the order FAILED and fails the workflow: in the Temporal UI, a
failed OrderSaga is an order that needs an operator.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, FailureError, TimeoutError
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from domain.orders import COMPENSATION_OF, Compensation, OrderState, SagaStep
    from workflows.contracts import (
        CANCEL_UPDATE,
        ORDER_SAGA,
        ORDER_STATUS,
        PLACED_UPDATE,
        STATE_QUERY,
        BusinessFailure,
        CancelOrderRequest,
        OrderSagaInput,
        SagaActivity,
        SagaSnapshot,
        SagaStatus,
        StepInput,
        StepResult,
    )

# Each forward step: its activity, the bounded context that runs it, the state it reaches.
STEPS: tuple[tuple[SagaStep, SagaActivity, str, OrderState], ...] = (
    (SagaStep.RESERVE_STOCK, SagaActivity.RESERVE_STOCK, "inventory", OrderState.STOCK_RESERVED),
    (
        SagaStep.PROCESS_PAYMENT,
        SagaActivity.PROCESS_PAYMENT,
        "payments",
        OrderState.PAYMENT_PROCESSED,
    ),
    (
        SagaStep.ARRANGE_SHIPPING,
        SagaActivity.ARRANGE_SHIPPING,
        "shipping",
        OrderState.SHIPPING_ARRANGED,
    ),
    (SagaStep.CONFIRM_ORDER, SagaActivity.CONFIRM_ORDER, "orders", OrderState.CONFIRMED),
)

UNDO: dict[Compensation, tuple[SagaActivity, str]] = {
    Compensation.RELEASE_STOCK: (SagaActivity.RELEASE_STOCK, "inventory"),
    Compensation.REFUND_PAYMENT: (SagaActivity.REFUND_PAYMENT, "payments"),
    Compensation.CANCEL_SHIPMENT: (SagaActivity.CANCEL_SHIPMENT, "shipping"),
}

FINAL_ANSWERS = [kind.value for kind in BusinessFailure]


@workflow.defn(name=ORDER_SAGA)
class OrderSaga:
    steps = STEPS

    @workflow.init
    def __init__(self, saga: OrderSagaInput) -> None:
        self._saga = saga
        self._snapshot = SagaSnapshot(order_id=saga.order.order_id)
        self._placed = False
        self._finished = False
        self._cancel_reason: str | None = None

    @workflow.run
    async def run(self, saga: OrderSagaInput) -> SagaSnapshot:
        await workflow.execute_local_activity(
            SagaActivity.PLACE_ORDER,
            self._input(),
            result_type=StepResult,
            start_to_close_timeout=self._seconds(saga.timeouts.step_seconds),
            schedule_to_close_timeout=self._seconds(saga.timeouts.step_deadline_seconds),
            retry_policy=self._retry(),
        )
        self._placed = True
        self._set_status("PENDING")
        _count("order_sagas_started", "Order sagas whose order was placed.")

        completed: list[SagaStep] = []
        for step, activity, context, reaches in self.steps:
            if self._cancel_reason is not None:
                return await self._compensate(self._cancel_reason, completed)
            self._update(current_step=step.value)
            try:
                await self._run_step(step, activity, context)
            except ActivityError as error:
                # A refusal means the step did nothing; anything else (a timeout,
                # a cancellation) may have had an effect, so it is undone too.
                in_doubt = [] if _is_refusal(error) else [step]
                reason = self._cancel_reason or _describe(step, error)
                return await self._compensate(reason, completed + in_doubt)
            completed.append(step)
            self._update(state=reaches)
            self._set_status(reaches.value)

        _count("order_sagas_confirmed", "Order sagas that confirmed their order.")
        return await self._finish(status=SagaStatus.COMPLETED)

    async def _run_step(self, step: SagaStep, activity: SagaActivity, context: str) -> None:
        """Run one step; a cancel request cancels it (and waits for it to stop)."""
        timeouts = self._saga.timeouts
        deadline = (
            timeouts.payment_deadline_seconds
            if step is SagaStep.PROCESS_PAYMENT
            else timeouts.step_deadline_seconds
        )
        handle = workflow.start_activity(
            activity,
            self._input(),
            result_type=StepResult,
            task_queue=getattr(self._saga.queues, context),
            start_to_close_timeout=self._seconds(timeouts.step_seconds),
            schedule_to_close_timeout=self._seconds(deadline),
            retry_policy=self._retry(),
            cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )
        if step is not SagaStep.CONFIRM_ORDER:
            await workflow.wait_condition(lambda: handle.done() or self._cancel_reason is not None)
            if not handle.done():
                handle.cancel()
        await handle

    async def _compensate(self, reason: str, to_undo: list[SagaStep]) -> SagaSnapshot:
        steps = [step for step in reversed(to_undo) if step in COMPENSATION_OF]
        planned = [COMPENSATION_OF[step] for step in steps]
        self._update(
            status=SagaStatus.COMPENSATING,
            failure_reason=reason,
            current_step=f"COMPENSATE_{steps[0]}" if steps else None,
        )
        await self._orders_activity(
            SagaActivity.BEGIN_COMPENSATION, reason=reason, compensations=tuple(planned)
        )
        timeouts = self._saga.timeouts
        for step, compensation in zip(steps, planned, strict=True):
            self._update(current_step=f"COMPENSATE_{step}")
            activity, context = UNDO[compensation]
            try:
                await workflow.execute_activity(
                    activity,
                    self._input(),
                    result_type=StepResult,
                    task_queue=getattr(self._saga.queues, context),
                    start_to_close_timeout=self._seconds(timeouts.step_seconds),
                    schedule_to_close_timeout=self._seconds(timeouts.compensation_deadline_seconds),
                    retry_policy=self._retry(),
                )
            except ActivityError as error:
                failure = f"{reason}; then {compensation} failed: {_cause(error)}"
                await self._orders_activity(
                    SagaActivity.CLOSE_ORDER, reason=failure, outcome=OrderState.FAILED
                )
                _count("order_sagas_failed", "Order sagas that need an operator.")
                await self._finish(
                    status=SagaStatus.FAILED, state=OrderState.FAILED, failure_reason=failure
                )
                raise ApplicationError(
                    f"order {self._saga.order.order_id} needs an operator: {failure}",
                    type="ORDER_FAILED",
                    non_retryable=True,
                ) from error
            self._update(compensations=(*self._snapshot.compensations, compensation))
        await self._orders_activity(
            SagaActivity.CLOSE_ORDER, reason=reason, outcome=OrderState.CANCELLED
        )
        _count("order_sagas_compensated", "Order sagas that cancelled their order.")
        return await self._finish(status=SagaStatus.COMPENSATED, state=OrderState.CANCELLED)

    async def _orders_activity(
        self,
        activity: SagaActivity,
        *,
        reason: str,
        compensations: tuple[Compensation, ...] = (),
        outcome: OrderState | None = None,
    ) -> None:
        timeouts = self._saga.timeouts
        await workflow.execute_activity(
            activity,
            self._input(reason=reason, compensations=compensations, outcome=outcome),
            result_type=StepResult,
            task_queue=self._saga.queues.orders,
            start_to_close_timeout=self._seconds(timeouts.step_seconds),
            schedule_to_close_timeout=self._seconds(timeouts.compensation_deadline_seconds),
            retry_policy=self._retry(),
        )

    async def _finish(
        self,
        *,
        status: SagaStatus,
        state: OrderState | None = None,
        failure_reason: str | None = None,
    ) -> SagaSnapshot:
        changes: dict[str, object] = {"status": status, "current_step": None}
        if state is not None:
            changes["state"] = state
            self._set_status(state.value)
        if failure_reason is not None:
            changes["failure_reason"] = failure_reason
        self._update(**changes)
        self._finished = True
        # Let a waiting cancel_order update answer before the workflow closes.
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._snapshot

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
        confirming = self._snapshot.current_step == SagaStep.CONFIRM_ORDER.value
        if self._finished or confirming or self._snapshot.state is OrderState.CONFIRMED:
            raise ApplicationError(
                f"order {self._saga.order.order_id} is {self._snapshot.state.value.lower()}"
                " and can no longer be cancelled",
                type="CONFLICT",
            )

    @workflow.query(name=STATE_QUERY)
    def state(self) -> SagaSnapshot:
        return self._snapshot

    def _input(
        self,
        *,
        reason: str = "",
        compensations: tuple[Compensation, ...] = (),
        outcome: OrderState | None = None,
    ) -> StepInput:
        return StepInput(
            order=self._saga.order,
            context=self._saga.context,
            reason=reason,
            compensations=compensations,
            outcome=outcome,
        )

    def _update(self, **changes: object) -> None:
        self._snapshot = self._snapshot.model_copy(update=changes)

    def _set_status(self, status: str) -> None:
        workflow.upsert_search_attributes([ORDER_STATUS.value_set(status)])

    def _retry(self) -> RetryPolicy:
        timeouts = self._saga.timeouts
        return RetryPolicy(
            initial_interval=self._seconds(timeouts.retry_initial_seconds),
            backoff_coefficient=2.0,
            maximum_interval=self._seconds(timeouts.retry_max_seconds),
            non_retryable_error_types=FINAL_ANSWERS,
        )

    @staticmethod
    def _seconds(value: float) -> timedelta:
        return timedelta(seconds=value)


def _count(name: str, description: str) -> None:
    """Add one to a counter through the workflow's meter, which skips replays."""
    workflow.metric_meter().create_counter(name, description).add(1)


def _is_refusal(error: ActivityError) -> bool:
    cause = error.cause
    return isinstance(cause, ApplicationError) and cause.type in FINAL_ANSWERS


def _cause(error: ActivityError) -> str:
    cause = error.cause
    if isinstance(cause, TimeoutError):
        return "timed out"
    if isinstance(cause, FailureError) and cause.message:
        return cause.message
    return str(error)


def _describe(step: SagaStep, error: ActivityError) -> str:
    if _is_refusal(error):
        return _cause(error)
    return f"{step.value.lower().replace('_', ' ')} did not complete: {_cause(error)}"
