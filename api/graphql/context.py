"""What every resolver gets: the app's services, the caller, and the operation's loaders."""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from dataclasses import dataclass

import structlog
from fastapi import Request, WebSocket
from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.fastapi import BaseContext
from strawberry.types import Info as StrawberryInfo

from api.auth.identity import Identity
from api.auth.sign_in import identify
from api.auth.sockets import Caller
from api.auth.tokens import TokenVerifier
from api.commands.sagas import SagaClient
from api.commands.sender import CommandSender
from api.errors import ApiError
from api.graphql.loaders import Loaders
from api.guards.read_cache import Kind, ReadCache
from domain.errors import ErrorCode
from observability.health import Check
from read_models.notifications import Notifications
from tenancy import act_for
from workflows.contracts import CommandContext

_CORRELATION_ID = re.compile(r"[A-Za-z0-9._:-]{1,100}")


@dataclass(frozen=True)
class Services:
    """What the app opens once at start-up and every request shares."""

    engine: AsyncEngine
    checks: dict[str, Check]
    """What `/readyz` asks: the database, Temporal and the projections' lag."""
    commands: CommandSender
    sagas: SagaClient
    notifications: Notifications
    verifier: TokenVerifier
    subscription_recheck_seconds: float = 30.0
    read_cache: ReadCache | None = None


class Context(BaseContext):
    """One request's (or one WebSocket's) context: the shared services and the caller.

    The caller's tenant is the tenant of every transaction the request begins:
    `context_from_request` acts for it, and so does a WebSocket's sign-in.
    """

    def __init__(
        self,
        *,
        services: Services,
        correlation_id: str,
        identity: Identity,
        auth_failure: str | None = None,
    ) -> None:
        super().__init__()
        self.services = services
        self.correlation_id = correlation_id
        self._identity = identity
        self._auth_failure = auth_failure
        self.loaders = self.fresh_loaders()
        self.operation_kind = Kind.OTHER
        """Set by `api.guards.read_cache.ClassifyOperations` once the operation is validated."""
        self.socket_caller: Caller | None = None
        """Set while a signed-in WebSocket counts against its caller's socket cap."""
        self.rejection: str | None = None
        """Why this WebSocket's sign-in was refused."""

    def fresh_loaders(self) -> Loaders:
        """New DataLoaders: the only place they are built (per operation, per update)."""
        return Loaders.for_request(self.services.engine)

    def signed_in_socket(self, identity: Identity, caller: Caller) -> None:
        """The WebSocket signed in as `identity`: its operations act for its tenant."""
        self._identity, self._auth_failure = identity, None
        self.socket_caller = caller
        act_for(identity.tenant)

    def caller(self) -> Identity:
        """Who is calling; a token that was sent but is not valid is refused, never ignored."""
        if self._auth_failure is not None:
            raise ApiError(ErrorCode.UNAUTHENTICATED, self._auth_failure)
        if not self._identity.current(self.services.verifier.leeway_seconds):
            # A WebSocket outlives its token: it may do nothing more once that expires.
            raise ApiError(ErrorCode.UNAUTHENTICATED, "the token has expired; sign in again")
        return self._identity

    def cache_scope(self) -> tuple[str, str] | None:
        """The tenant and role a cached answer is shared by, or None when this caller
        must be answered afresh (a token that was refused or has expired is refused
        again, never answered from the cache)."""
        if not self._valid():
            return None
        identity = self._identity
        role = "admin" if identity.is_admin else "user" if identity.signed_in else "anonymous"
        return identity.tenant, role

    def is_signed_in(self) -> bool:
        """Whether a valid, current token names the caller (asks nothing of the database)."""
        return self._valid() and self._identity.signed_in

    def is_admin(self) -> bool:
        """Whether a valid, current token gives the caller the admin role."""
        return self._valid() and self._identity.is_admin

    def _valid(self) -> bool:
        return self._auth_failure is None and self._identity.current(
            self.services.verifier.leeway_seconds
        )

    def signed_in(self) -> Identity:
        identity = self.caller()
        if not identity.signed_in:
            raise ApiError(ErrorCode.UNAUTHENTICATED, "sign in: send Authorization: Bearer <token>")
        return identity

    def admin(self) -> Identity:
        identity = self.signed_in()
        if not identity.is_admin:
            raise ApiError(ErrorCode.FORBIDDEN, "this needs the admin role")
        return identity

    async def wait_for_log(self, woken: asyncio.Event) -> None:
        """Until `woken` is set, or the recheck interval at most: a notification
        can be lost (one sent while the listener reconnects, say)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(woken.wait(), self.services.subscription_recheck_seconds)

    def command_context(self, command_id: str) -> CommandContext:
        """Who sent a command: the verified caller, recorded in every event's metadata."""
        identity = self.signed_in()
        assert identity.subject is not None
        return CommandContext(
            command_id=command_id,
            correlation_id=self.correlation_id,
            actor=identity.subject,
            tenant_id=identity.tenant,
        )


Info = StrawberryInfo[Context, None]
"""What every resolver's `info` argument is."""


async def context_from_request(connection: Request | WebSocket, services: Services) -> Context:
    """The context of one HTTP request or WebSocket: its correlation id and its caller."""
    headers = connection.headers
    correlation_id = headers.get("x-correlation-id", "")
    if not _CORRELATION_ID.fullmatch(correlation_id):
        correlation_id = str(uuid.uuid4())  # none, or one we will not store and log
    # Every log line of this request carries it (each request runs in its own task).
    structlog.contextvars.bind_contextvars(correlation_id=correlation_id)
    identity, failure = await identify(
        services.verifier, headers.get("authorization"), headers.get("x-tenant-id")
    )
    # Every transaction this request begins acts for the caller's tenant only.
    act_for(identity.tenant)
    return Context(
        services=services, correlation_id=correlation_id, identity=identity, auth_failure=failure
    )
