"""What every resolver gets: the caller, the loaders, the database, the command senders."""

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

from api.auth.identity import Identity, anonymous
from api.auth.sockets import Caller
from api.auth.tokens import InvalidToken, TokenVerifier
from api.commands.sagas import SagaClient
from api.commands.sender import CommandSender
from api.errors import ApiError
from api.graphql.loaders import Loaders
from api.guards.read_cache import Kind, ReadCache
from domain.errors import ErrorCode
from observability.health import Check
from read_models.notifications import Notifications
from tenancy import TENANT_NAME, act_for
from workflows.contracts import CommandContext

_CORRELATION_ID = re.compile(r"[A-Za-z0-9._:-]{1,100}")


class Context(BaseContext):
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        commands: CommandSender,
        sagas: SagaClient,
        notifications: Notifications,
        correlation_id: str,
        verifier: TokenVerifier,
        identity: Identity,
        auth_failure: str | None = None,
        subscription_recheck_seconds: float = 30.0,
        read_cache: ReadCache | None = None,
    ) -> None:
        super().__init__()
        self.read_cache = read_cache
        self.operation_kind = Kind.OTHER
        """Set by `api.guards.read_cache.ClassifyOperations` once the operation is validated."""
        self.engine = engine
        self.commands = commands
        self.sagas = sagas
        self.notifications = notifications
        self.loaders = Loaders.for_request(engine)
        self.correlation_id = correlation_id
        self._verifier = verifier
        self._identity = identity
        self._auth_failure = auth_failure
        self.subscription_recheck_seconds = subscription_recheck_seconds
        self.socket_caller: Caller | None = None
        self.rejection: str | None = None
        """Why this WebSocket's sign-in was refused."""
        """Set while a signed-in WebSocket counts against its caller's socket cap."""

    async def sign_in(self, authorization: object) -> str | None:
        """Take the caller a WebSocket names in its `connection_init`; says why not, if not."""
        identity, failure = await identify(self._verifier, authorization, None)
        if failure is None and not identity.signed_in:
            failure = "sign in to subscribe: send Authorization: Bearer <token>"
        if failure is None:
            self._identity, self._auth_failure = identity, None
        return failure

    def caller(self) -> Identity:
        """Who is calling; a token that was sent but is not valid is refused, never ignored."""
        if self._auth_failure is not None:
            raise ApiError(ErrorCode.UNAUTHENTICATED, self._auth_failure)
        if not self._identity.current(self._verifier.leeway_seconds):
            # A WebSocket outlives its token: it may do nothing more once that expires.
            raise ApiError(ErrorCode.UNAUTHENTICATED, "the token has expired; sign in again")
        # Every transaction this operation begins acts for the caller's tenant only.
        act_for(self._identity.tenant)
        return self._identity

    def cache_scope(self) -> tuple[str, str] | None:
        """The tenant and role a cached answer is shared by, or None when this caller
        must be answered afresh (a token that was refused or has expired is refused
        again, never answered from the cache)."""
        if self._auth_failure is not None or not self._identity.current(
            self._verifier.leeway_seconds
        ):
            return None
        identity = self._identity
        role = "admin" if identity.is_admin else "user" if identity.signed_in else "anonymous"
        return identity.tenant, role

    def is_signed_in(self) -> bool:
        """Whether a valid, current token names the caller (asks nothing of the database)."""
        return (
            self._auth_failure is None
            and self._identity.signed_in
            and self._identity.current(self._verifier.leeway_seconds)
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
            await asyncio.wait_for(woken.wait(), self.subscription_recheck_seconds)

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


def bearer_token(authorization: object) -> str | None:
    """The token of an `Authorization: Bearer <token>` value (None when there is none)."""
    if not isinstance(authorization, str):
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def identify(
    verifier: TokenVerifier, authorization: object, tenant_header: str | None
) -> tuple[Identity, str | None]:
    """The caller and, when a token was sent but is not valid, why it was refused.

    No token at all is an anonymous reader of `tenant_header`'s tenant (or the
    default one); with a token, the tenant is the token's and headers mean nothing.
    """
    if authorization is None:
        if tenant_header is not None and not TENANT_NAME.fullmatch(tenant_header):
            return anonymous(), "x-tenant-id must be a tenant's name"
        return anonymous(tenant_header), None
    token = bearer_token(authorization)
    if token is None:
        return anonymous(), "the Authorization header must be `Bearer <token>`"
    try:
        return await verifier.identify(token), None
    except InvalidToken as refused:
        return anonymous(), str(refused)


async def context_from_request(connection: Request | WebSocket, services: Services) -> Context:
    headers = connection.headers
    correlation_id = headers.get("x-correlation-id", "")
    if not _CORRELATION_ID.fullmatch(correlation_id):
        correlation_id = str(uuid.uuid4())  # none, or one we will not store and log
    # Every log line of this request carries it (each request runs in its own task).
    structlog.contextvars.bind_contextvars(correlation_id=correlation_id)
    identity, failure = await identify(
        services.verifier, headers.get("authorization"), headers.get("x-tenant-id")
    )
    act_for(identity.tenant)
    return Context(
        engine=services.engine,
        commands=services.commands,
        sagas=services.sagas,
        notifications=services.notifications,
        correlation_id=correlation_id,
        verifier=services.verifier,
        identity=identity,
        auth_failure=failure,
        subscription_recheck_seconds=services.subscription_recheck_seconds,
        read_cache=services.read_cache,
    )
