"""The FastAPI application: GraphQL at /graphql (GraphiQL at /graphql and /graphiql)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from functools import cached_property
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry
from pydantic_core import to_json
from strawberry.exceptions import ConnectionRejectionError
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLRequestData
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from api.auth.sockets import CodedProtocolErrors, SocketsPerCaller
from api.graphql.context import Context, Services, context_from_request
from api.graphql.schema import build_schema
from api.guards.limits import BodySizeLimit, GraphQLLimits
from api.guards.read_cache import Kind
from observability.health import (
    Check,
    add_operations_routes,
    operations_app,
    served_in_background,
)
from observability.metrics import ApiMetrics
from settings import Settings

GRAPHIQL_ASSETS = "/graphiql-assets"
"""Where the API serves GraphiQL's scripts and styles, under the paths unpkg.com uses."""
ASSETS_DIR = Path(__file__).resolve().parent / "graphiql_assets"
EXAMPLE_QUERY = """# The catalog, as the seed's example reads it: run it with the play button.
# Writes need the admin token, already in Headers below when ./dev serves this page.
{
  products(first: 10) {
    id
    name
    price
    stock
    category { id name }
  }
}
"""


class SignedInSockets(GraphQLRouter[Context, None]):
    """GraphQL over HTTP and WebSocket; a socket must sign in with its `connection_init`.

    The token travels as `{"Authorization": "Bearer …"}` in the init payload; a
    socket without a valid one, or of a caller who already holds as many sockets
    as `sockets` allows, is closed (4403) before any subscription runs.
    """

    graphql_transport_ws_handler_class = CodedProtocolErrors

    def __init__(
        self,
        *args: Any,
        sockets: SocketsPerCaller,
        metrics: ApiMetrics,
        graphiql_token: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._sockets = sockets
        self._metrics = metrics
        self._graphiql_token = graphiql_token

    async def execute_single(
        self,
        request: Request,
        request_adapter: Any,
        sub_response: Any,
        context: Context,
        root_value: Any,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """Answer a catalog query from the read cache when it can (see `api.guards.read_cache`).

        Relies on batching being off (it is: Strawberry's default): the items of a
        batch would share one context, and with it `operation_kind`.
        """
        cache, scope = context.read_cache, context.cache_scope()
        if cache is None or scope is None or not request_data.query:
            return await super().execute_single(
                request, request_adapter, sub_response, context, root_value, request_data
            )
        tenant, role = scope
        key = cache.key(
            tenant, role, request_data.query, request_data.operation_name, request_data.variables
        )
        cached = cache.get(key)
        if cached is not None:
            self._metrics.read_cache.labels("hit").inc()
            return ExecutionResult(data=cached, errors=None)
        generation = cache.generation(tenant)
        result = await super().execute_single(
            request, request_adapter, sub_response, context, root_value, request_data
        )
        if context.operation_kind is Kind.CATALOG_READ:
            self._metrics.read_cache.labels("miss").inc()
            if not result.errors and result.data is not None:
                cache.put(key, generation, result.data)
        elif context.operation_kind is Kind.MUTATION and not result.errors and role != "anonymous":
            # Before the answer leaves: this client's next read here sees its write.
            # Only a write that happened: a refused one (anyone can send those, for
            # any tenant) must not empty a tenant's cache.
            cache.invalidate(tenant)
        return result

    def encode_json(self, data: object) -> bytes:
        """Responses encoded by pydantic-core (several times faster than `json.dumps`)."""
        return to_json(data)

    def decode_json(self, data: str | bytes) -> object:
        """JSON, where a number Python cannot read (thousands of digits) is bad JSON (400),
        as any other unreadable body is, not an error of ours."""
        try:
            return json.loads(data)
        except json.JSONDecodeError:
            raise
        except ValueError as error:
            text = data if isinstance(data, str) else data.decode(errors="replace")
            raise json.JSONDecodeError(str(error), text, 0) from None

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return HTMLResponse(self._graphiql_page)

    @cached_property
    def _graphiql_page(self) -> str:
        """GraphiQL, its assets served by us (see `api/http/graphiql_assets`), opening on the
        seed's catalog query; in development, with the dev admin token in its headers.
        Built once: it is the same for every request."""
        html = self.graphql_ide_html.replace("https://unpkg.com/", f"{GRAPHIQL_ASSETS}/")
        html = re.sub(
            r"const EXAMPLE_QUERY = `.*?`;",
            lambda _: f"const EXAMPLE_QUERY = `{EXAMPLE_QUERY}`;",
            html,
            count=1,
            flags=re.DOTALL,
        )
        if self._graphiql_token is not None:
            headers = json.dumps(json.dumps({"Authorization": f"Bearer {self._graphiql_token}"}))
            html = html.replace(
                "React.useState(parameters.headers)",
                f"React.useState(parameters.headers || {headers})",
            )
        return html

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        params = context.connection_params if isinstance(context.connection_params, dict) else {}
        failure = await context.sign_in(params.get("Authorization", params.get("authorization")))
        if failure is None:
            identity = context.signed_in()
            assert identity.subject is not None
            caller = (identity.tenant, identity.subject)
            if self._sockets.take(caller):
                context.socket_caller = caller
            else:
                failure = (
                    f"this caller already holds {self._sockets.cap} open sockets, "
                    "the most allowed; close one first"
                )
        if failure is not None:
            context.rejection = failure  # the close frame's reason (see `api.auth.sockets`)
            raise ConnectionRejectionError({"reason": failure})
        return await super().on_ws_connect(context)

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        try:
            return await super().run(request, context, root_value)
        finally:
            # The socket has closed: its caller may open another.
            if isinstance(context, Context) and context.socket_caller is not None:
                self._sockets.give_back(context.socket_caller)
                context.socket_caller = None


def create_app(
    settings: Settings,
    *,
    open_services: Callable[[], AbstractAsyncContextManager[Services]],
    registry: CollectorRegistry | None = None,
    internal_port: int | None = None,
) -> FastAPI:
    """Build the API; `open_services` (see `bootstrap.api_services`) runs with its lifespan.

    Metrics go to `registry` (by default one of the app's own). With `internal_port`,
    the lifespan also serves `/metrics`, `/healthz` and `/readyz` there, for
    scrapers and probes inside the cluster; the public port has `/metrics` only in
    development.
    """
    registry = registry or CollectorRegistry()
    metrics = ApiMetrics.create(registry)

    def checks() -> dict[str, Check]:
        services: Services = app.state.services
        return services.checks

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_services() as services, AsyncExitStack() as stack:
            app.state.services = services
            if internal_port is not None:
                internal = operations_app(registry, checks)
                stack.enter_context(served_in_background(internal, port=internal_port))
            yield

    # Production serves no API explorer: no GraphiQL, no /docs, no /openapi.json.
    explorers: dict[str, Any] = (
        {"docs_url": None, "redoc_url": None, "openapi_url": None} if settings.production else {}
    )
    app = FastAPI(title="shop", lifespan=lifespan, **explorers)

    async def get_context(request: Request = None, websocket: WebSocket = None) -> Context:  # type: ignore[assignment]
        connection = request if request is not None else websocket
        return await context_from_request(connection, connection.app.state.services)

    limits = GraphQLLimits(
        max_depth=settings.graphql_max_depth,
        max_aliases=settings.graphql_max_aliases,
        max_tokens=settings.graphql_max_tokens,
        max_cost=settings.graphql_max_cost,
        max_fields=settings.graphql_max_fields,
    )
    schema = build_schema(metrics, limits=limits, production=settings.production)
    secret = settings.dev_graphiql_token
    graphiql_token = None if secret is None else secret.get_secret_value()
    if not settings.production:
        app.mount(GRAPHIQL_ASSETS, StaticFiles(directory=ASSETS_DIR), name="graphiql-assets")
    sockets = SocketsPerCaller(settings.sockets_per_caller)
    for prefix in ("/graphql",) if settings.production else ("/graphql", "/graphiql"):
        router = SignedInSockets(
            schema,
            sockets=sockets,
            metrics=metrics,
            max_subscriptions_per_connection=settings.subscriptions_per_socket,
            context_getter=get_context,
            graphiql_token=graphiql_token,
            graphql_ide=None if settings.production else "graphiql",
            # Only graphql-transport-ws: the legacy graphql-ws has no init timeout
            # and lets a socket sign in again as someone else.
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        )
        app.include_router(router, prefix=prefix)

    # Production serves /metrics only on the internal port (API_METRICS_PORT, see `cli`).
    add_operations_routes(app, registry=registry, checks=checks, metrics=not settings.production)
    app.add_middleware(BodySizeLimit, max_bytes=settings.request_max_bytes)
    return app
