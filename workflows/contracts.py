"""What the API and the worker agree on: workflow names, task queues and payloads.

Imports nothing heavier than pydantic and the domain's command models, so the
API can start workflows and the workflow sandbox can load it cheaply. The order
saga's activities are declared apart, in `workflows.saga_activities`: the API
never calls them.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from temporalio.common import SearchAttributeKey

from domain.catalog import (
    CreateCategory,
    CreateProduct,
    DeleteCategory,
    DeleteProduct,
    RenameCategory,
    UpdateProduct,
)
from domain.inventory import AddStock
from domain.messages import Text
from domain.orders import PlaceOrder
from domain.saga import Compensation, OrderState, SagaStatus, SagaStep

COMMAND_WORKFLOW = "CommandWorkflow"
EXECUTE_COMMAND_ACTIVITY = "execute_command"

AnyCommand = Annotated[
    CreateCategory
    | RenameCategory
    | DeleteCategory
    | CreateProduct
    | UpdateProduct
    | DeleteProduct
    | AddStock,
    Field(discriminator="kind"),
]


class CommandContext(BaseModel):
    """Who sent a command and why; becomes the metadata of every event it causes."""

    model_config = ConfigDict(frozen=True)

    command_id: str
    correlation_id: str
    actor: str = "anonymous"
    tenant_id: str = "default"
    trace: dict[str, str] = Field(default_factory=dict)


class CommandRequest(BaseModel):
    """Input of `CommandWorkflow` and of the `execute_command` activity."""

    model_config = ConfigDict(frozen=True)

    command: AnyCommand
    context: CommandContext
    activity_timeout_seconds: float
    fingerprint: str | None = None
    """A digest of the command, when its id came from the client's `requestId`."""


class CommandFailure(BaseModel):
    """A business rule refused the command (an answer, not a fault)."""

    model_config = ConfigDict(frozen=True)

    code: str
    message: str
    field: str | None = None


class CommandResult(BaseModel):
    """What a command did: the log position of its last event, or why it was refused.

    `position` is None when the command changed nothing (renaming to the same name).
    """

    model_config = ConfigDict(frozen=True)

    position: str | None = None
    failure: CommandFailure | None = None
    fingerprint: str | None = None
    """The fingerprint of the request that ran: another request that joined it can tell."""


def command_workflow_id(command_id: str) -> str:
    return f"command-{command_id}"


# The order saga -------------------------------------------------------------

ORDER_SAGA = "OrderSaga"

# Search attributes every saga carries, so operators can filter orders in the UI.
ORDER_ID = SearchAttributeKey.for_keyword("OrderId")
CUSTOMER_ID = SearchAttributeKey.for_keyword("CustomerId")
ORDER_STATUS = SearchAttributeKey.for_keyword("OrderStatus")
PLACED_UPDATE = "placed"
CANCEL_UPDATE = "cancel_order"
STATE_QUERY = "state"


ORDER_NEEDS_OPERATOR = "ORDER_FAILED"
"""The `ApplicationError.type` of a saga that failed: its order is FAILED and needs an operator."""


class TaskQueues(BaseModel):
    """Where each bounded context's activities run; one worker may poll them all."""

    model_config = ConfigDict(frozen=True)

    orders: str
    inventory: str
    payments: str
    shipping: str


class SagaTimeouts(BaseModel):
    """Every timeout and deadline of a saga, fixed when it starts (so replays agree)."""

    model_config = ConfigDict(frozen=True)

    step_seconds: float
    """One attempt of any activity."""
    step_deadline_seconds: float
    """All attempts of a step other than payment."""
    payment_deadline_seconds: float
    """All attempts of the payment, provider outages included."""
    compensation_deadline_seconds: float
    """All attempts of one compensation; past it the order ends FAILED."""
    retry_initial_seconds: float
    retry_max_seconds: float


class OrderSagaInput(BaseModel):
    model_config = ConfigDict(frozen=True)

    order: PlaceOrder
    context: CommandContext
    queues: TaskQueues
    timeouts: SagaTimeouts


class SagaSnapshot(BaseModel):
    """The saga's live state, as its query and updates return it."""

    model_config = ConfigDict(frozen=True)

    order_id: str
    status: SagaStatus = SagaStatus.RUNNING
    state: OrderState = OrderState.STARTED
    current_step: SagaStep | None = None
    failure_reason: str | None = None
    compensations: tuple[Compensation, ...] = ()


class CancelOrderRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    reason: Text = "cancelled by the customer"


def order_workflow_id(order_id: str) -> str:
    return f"order-{order_id}"
