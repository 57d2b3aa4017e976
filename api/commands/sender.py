"""Sending commands to the write side through Temporal."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta
from typing import Annotated

import strawberry
import structlog
from temporalio.client import Client, WorkflowFailureError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError

from api.errors import ApiError, unavailable_or_internal
from domain.errors import ErrorCode
from workflows.contracts import (
    COMMAND_WORKFLOW,
    AnyCommand,
    CommandContext,
    CommandRequest,
    CommandResult,
    command_workflow_id,
)

log = structlog.get_logger(__name__)

RequestId = Annotated[
    str | None,
    strawberry.argument(
        description="Idempotency key: the same requestId returns the same result "
        "and changes nothing twice. Leave it out and each request is new."
    ),
]
"""The optional `requestId` argument every mutation takes."""

MAX_REQUEST_ID = 200

REUSED_REQUEST_ID = "this requestId was used before with other input; send a new requestId"
_REQUEST_IDS = uuid.UUID("8a4c5e0e-4f55-4c36-9a53-1f6f0f3c8f11")
_ENTITY_IDS = uuid.UUID("0f1f7a64-98c8-4a1e-8a2f-5be2c2a9b6d3")


def command_id_for(*, mutation: str, tenant_id: str, actor: str, request_id: str | None) -> str:
    """A new id per request, or the same id whenever the same `requestId` comes back.

    Scoped by tenant, caller and mutation, so two callers (or two mutations)
    that happen to share a `requestId` stay two commands.
    """
    if request_id is None:
        return str(uuid.uuid4())
    if not 1 <= len(request_id) <= MAX_REQUEST_ID:
        raise ApiError(
            ErrorCode.VALIDATION,
            f"a requestId has 1 to {MAX_REQUEST_ID} characters",
            field="requestId",
        )
    scope = f"{tenant_id}\x1f{actor}\x1f{mutation}\x1f{request_id}"
    return str(uuid.uuid5(_REQUEST_IDS, scope))


def new_entity_id(command_id: str) -> str:
    """The id a create command gives its new entity: derived, so a retry reuses it."""
    return str(uuid.uuid5(_ENTITY_IDS, command_id))


class CommandSender:
    """Runs a command's workflow and waits for its result.

    A repeated command id joins the running workflow or, once that has closed,
    runs again and finds its earlier events (appends are idempotent per
    command), so a retried request changes nothing twice.
    """

    def __init__(
        self,
        client: Client,
        *,
        task_queue: str,
        timeout: timedelta,
        activity_timeout: timedelta,
    ) -> None:
        self._client = client
        self._task_queue = task_queue
        self._timeout = timeout
        self._activity_timeout = activity_timeout

    async def send(self, command: AnyCommand, context: CommandContext) -> CommandResult:
        """Run `command`; raises `ApiError` when it is refused or cannot complete."""
        fingerprint = hashlib.sha256(command.model_dump_json().encode()).hexdigest()
        request = CommandRequest(
            command=command,
            context=context,
            activity_timeout_seconds=self._activity_timeout.total_seconds(),
            fingerprint=fingerprint,
        )
        try:
            result: CommandResult = await self._client.execute_workflow(
                COMMAND_WORKFLOW,
                request,
                id=command_workflow_id(context.command_id),
                task_queue=self._task_queue,
                result_type=CommandResult,
                execution_timeout=self._timeout,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
        except (WorkflowFailureError, RPCError) as error:
            log.error("command did not complete", command=command.kind, exc_info=error)
            raise ApiError(
                unavailable_or_internal(error),
                "the command could not be completed now; retry with the same requestId",
            ) from error
        if result.fingerprint not in (None, fingerprint):
            # Joined a running command of the same requestId, sent with other input.
            raise ApiError(ErrorCode.CONFLICT, REUSED_REQUEST_ID, field="requestId")
        if result.failure is not None:
            failure = result.failure
            raise ApiError(ErrorCode(failure.code), failure.message, field=failure.field)
        return result
