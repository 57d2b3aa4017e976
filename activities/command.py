"""The `execute_command` activity: runs a command's handler in a unit of work.

A refusal by the domain is an answer (`CommandResult.failure`), not an error:
`CommandWorkflow` hands it back to the API.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity

from activities.handlers import COMMAND_HANDLERS
from activities.handlers.unit_of_work import UnitOfWork, run_in_unit_of_work
from domain.errors import DomainError
from eventstore import EventMetadata, FollowedEventStore
from observability.tracing import trace_context
from read_models import Projection
from workflows.contracts import (
    EXECUTE_COMMAND_ACTIVITY,
    CommandFailure,
    CommandRequest,
    CommandResult,
)

log = structlog.get_logger(__name__)


class CommandActivities:
    """Activities that need the database; the worker builds one and registers its methods."""

    def __init__(
        self,
        engine: AsyncEngine,
        store: FollowedEventStore,
        projections: Sequence[Projection],
        *,
        conflict_retries: int,
    ) -> None:
        self._engine = engine
        self._store = store
        self._projections = projections
        self._conflict_retries = conflict_retries

    @activity.defn(name=EXECUTE_COMMAND_ACTIVITY)
    async def execute_command(self, request: CommandRequest) -> CommandResult:
        """Apply one command; a business refusal comes back as `failure`, not an error."""
        command = request.command
        context = request.context
        metadata = EventMetadata(
            command_id=context.command_id,
            correlation_id=context.correlation_id,
            causation_id=context.command_id,
            actor=context.actor,
            tenant_id=context.tenant_id,
            trace=context.trace or trace_context(),
            fingerprint=request.fingerprint,
        )
        handler = COMMAND_HANDLERS[type(command)]

        async def handle(uow: UnitOfWork[Any]) -> None:
            await handler(uow, command)

        structlog.contextvars.bind_contextvars(correlation_id=context.correlation_id)
        try:
            position = await run_in_unit_of_work(
                self._engine,
                self._store,
                metadata,
                self._projections,
                handle,
                conflict_retries=self._conflict_retries,
            )
        except DomainError as refusal:
            log.info(
                "command refused",
                command=command.kind,
                code=refusal.code.value,
                reason=refusal.message,
                correlation_id=context.correlation_id,
            )
            return CommandResult(
                failure=CommandFailure(
                    code=refusal.code.value, message=refusal.message, field=refusal.field
                ),
                fingerprint=request.fingerprint,
            )
        log.info(
            "command applied",
            command=command.kind,
            position=str(position) if position else None,
            correlation_id=context.correlation_id,
        )
        return CommandResult(
            position=str(position) if position else None, fingerprint=request.fingerprint
        )
