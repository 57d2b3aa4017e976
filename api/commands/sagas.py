"""Starting and cancelling order sagas on Temporal."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import structlog
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.errors import ApiError, unavailable_or_internal
from domain.errors import ErrorCode
from domain.orders import PlaceOrder
from domain.saga import OrderStatus
from workflows.contracts import (
    CANCEL_UPDATE,
    CUSTOMER_ID,
    ORDER_ID,
    ORDER_SAGA,
    ORDER_STATUS,
    PLACED_UPDATE,
    CancelOrderRequest,
    CommandContext,
    OrderSagaInput,
    SagaSnapshot,
    SagaTimeouts,
    TaskQueues,
    order_workflow_id,
)

log = structlog.get_logger(__name__)


class OrderNotRunning(Exception):
    """No saga is running for this order (it finished, or never existed)."""


class SagaClient:
    """Starts an order's saga and waits until the order is recorded; cancels one."""

    def __init__(
        self,
        client: Client,
        *,
        queues: TaskQueues,
        timeouts: SagaTimeouts,
        placement_timeout: timedelta,
    ) -> None:
        self._client = client
        self._queues = queues
        self._timeouts = timeouts
        self._placement_timeout = placement_timeout

    async def place(self, order: PlaceOrder, context: CommandContext) -> None:
        """Start `OrderSaga` (or join the one this order already has) until the order exists.

        Uses update-with-start: one round trip starts the workflow and waits
        for its `placed` update, which answers as soon as OrderPlaced is stored.
        """
        saga = OrderSagaInput(
            order=order, context=context, queues=self._queues, timeouts=self._timeouts
        )
        start: WithStartWorkflowOperation[Any, SagaSnapshot] = WithStartWorkflowOperation(
            ORDER_SAGA,
            saga,
            id=order_workflow_id(order.order_id),
            task_queue=self._queues.orders,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            # A finished saga is never started again for the same order.
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            result_type=SagaSnapshot,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(ORDER_ID, order.order_id),
                    SearchAttributePair(CUSTOMER_ID, order.user_id),
                    SearchAttributePair(ORDER_STATUS, OrderStatus.PENDING.value),
                ]
            ),
            memo={
                "userId": order.user_id,
                "totalAmount": order.total_amount,
                "lines": len(order.items),
                "correlationId": context.correlation_id,
            },
        )
        try:
            await self._client.execute_update_with_start_workflow(
                PLACED_UPDATE,
                start_workflow_operation=start,
                result_type=SagaSnapshot,
                rpc_timeout=self._placement_timeout,
            )
        except WorkflowAlreadyStartedError:
            return  # the same request again, after its saga finished: the order exists
        except (RPCError, WorkflowUpdateRPCTimeoutOrCancelledError) as error:
            log.error("order saga did not start", order_id=order.order_id, exc_info=error)
            raise ApiError(
                unavailable_or_internal(error),
                "the order could not be placed now; retry with the same requestId",
            ) from error

    async def cancel(self, order_id: str, request: CancelOrderRequest) -> SagaSnapshot:
        """Ask the saga to compensate; answers once it has finished doing so."""
        handle = self._client.get_workflow_handle(order_workflow_id(order_id))
        try:
            snapshot: SagaSnapshot = await handle.execute_update(
                CANCEL_UPDATE, request, result_type=SagaSnapshot
            )
        except WorkflowUpdateFailedError as error:
            cause = error.cause
            if isinstance(cause, ApplicationError) and cause.type == ErrorCode.CONFLICT.value:
                raise ApiError(ErrorCode.CONFLICT, cause.message, field="id") from None
            raise
        except RPCError as error:
            if error.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
                raise OrderNotRunning(order_id) from None
            raise
        return snapshot
