"""What every resolver gets: the request's loaders, the database, and the command sender."""

from __future__ import annotations

import uuid

from fastapi import Request, WebSocket
from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.fastapi import BaseContext

from api.commands import CommandSender
from api.loaders import Loaders
from workflows.contracts import CommandContext


class Context(BaseContext):
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        commands: CommandSender,
        correlation_id: str,
        actor: str,
        tenant_id: str,
    ) -> None:
        super().__init__()
        self.engine = engine
        self.commands = commands
        self.loaders = Loaders.for_request(engine)
        self.correlation_id = correlation_id
        self.actor = actor
        self.tenant_id = tenant_id

    def command_context(self, command_id: str) -> CommandContext:
        return CommandContext(
            command_id=command_id,
            correlation_id=self.correlation_id,
            actor=self.actor,
            tenant_id=self.tenant_id,
        )


def context_from_request(
    connection: Request | WebSocket, engine: AsyncEngine, commands: CommandSender
) -> Context:
    """Correlation id, actor and tenant come from headers until authentication exists."""
    headers = connection.headers
    return Context(
        engine=engine,
        commands=commands,
        correlation_id=headers.get("x-correlation-id") or str(uuid.uuid4()),
        actor=headers.get("x-actor", "anonymous"),
        tenant_id=headers.get("x-tenant-id", "default"),
    )
