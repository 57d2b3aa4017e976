"""What the API and the worker agree on: workflow and activity names and payloads.

Imports nothing heavier than pydantic and the domain's command models, so the
API can start workflows and the workflow sandbox can load it cheaply.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from domain.catalog import (
    CreateCategory,
    CreateProduct,
    DeleteCategory,
    DeleteProduct,
    RenameCategory,
    UpdateProduct,
)
from domain.inventory import AddStock

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
    activity_timeout_seconds: float = 10.0


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


def command_workflow_id(command_id: str) -> str:
    return f"command-{command_id}"
