"""What every resolver gets: the request's loaders, the database, and the command sender."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass

import structlog
from fastapi import Request, WebSocket
from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.fastapi import BaseContext
from strawberry.types import Info as StrawberryInfo
from temporalio.client import Client

from api.commands import CommandSender
from api.loaders import Loaders
from api.saga_client import SagaClient
from eventstore import EventStore, Notifications
from workflows.contracts import CommandContext

SUBSCRIPTION_POLL_SECONDS = 1.0
"""The longest a subscription waits without a notification before it looks again."""


class Context(BaseContext):
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        commands: CommandSender,
        sagas: SagaClient,
        notifications: Notifications,
        correlation_id: str,
        actor: str,
        tenant_id: str,
    ) -> None:
        super().__init__()
        self.engine = engine
        self.commands = commands
        self.sagas = sagas
        self.notifications = notifications
        self.loaders = Loaders.for_request(engine)
        self.correlation_id = correlation_id
        self.actor = actor
        self.tenant_id = tenant_id

    async def wait_for_log(self, woken: asyncio.Event) -> None:
        """Until the log grows, or a second at most (a notification can be lost)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(woken.wait(), SUBSCRIPTION_POLL_SECONDS)

    def command_context(self, command_id: str) -> CommandContext:
        return CommandContext(
            command_id=command_id,
            correlation_id=self.correlation_id,
            actor=self.actor,
            tenant_id=self.tenant_id,
        )


Info = StrawberryInfo[Context, None]
"""What every resolver's `info` argument is."""


@dataclass(frozen=True)
class Services:
    """What the app opens once at start-up and every request shares."""

    engine: AsyncEngine
    store: EventStore
    """For the readiness check's projection lag; the API never appends."""
    temporal: Client
    commands: CommandSender
    sagas: SagaClient
    notifications: Notifications


def context_from_request(connection: Request | WebSocket, services: Services) -> Context:
    """Correlation id, actor and tenant come from headers until authentication exists."""
    headers = connection.headers
    correlation_id = headers.get("x-correlation-id") or str(uuid.uuid4())
    # Every log line of this request carries it (each request runs in its own task).
    structlog.contextvars.bind_contextvars(correlation_id=correlation_id)
    return Context(
        engine=services.engine,
        commands=services.commands,
        sagas=services.sagas,
        notifications=services.notifications,
        correlation_id=correlation_id,
        actor=headers.get("x-actor", "anonymous"),
        tenant_id=headers.get("x-tenant-id", "default"),
    )
