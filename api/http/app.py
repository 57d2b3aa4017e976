"""The FastAPI application: GraphQL at /graphql (GraphiQL at /graphql and /graphiql)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, WebSocket
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from api.auth.sockets import SocketsPerCaller
from api.graphql.context import Context, Services, context_from_request
from api.graphql.schema import build_schema
from api.guards.limits import GraphQLLimits
from api.guards.persisted_documents import PersistedDocuments, TrustedDocuments
from api.http.body_size import BodySizeLimit
from api.http.graphiql import ASSETS_DIR, GRAPHIQL_ASSETS
from api.http.router import ShopGraphQLRouter
from observability.health import (
    Check,
    add_operations_routes,
    operations_app,
    served_in_background,
)
from observability.metrics import ApiMetrics
from settings import Settings


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
    trusted = settings.graphql_trusted_documents
    documents = PersistedDocuments(
        max_bytes=settings.graphql_persisted_queries_max_bytes,
        trusted=None if trusted is None else TrustedDocuments.load(trusted),
        admins_may_send_any=settings.graphql_trusted_documents_admins_may_send_any,
    )
    schema = build_schema(
        metrics, limits=limits, production=settings.production, documents=documents
    )
    secret = settings.dev_graphiql_token
    graphiql_token = None if secret is None else secret.get_secret_value()
    if not settings.production:
        app.mount(GRAPHIQL_ASSETS, StaticFiles(directory=ASSETS_DIR), name="graphiql-assets")
    sockets = SocketsPerCaller(settings.sockets_per_caller)
    for prefix in ("/graphql",) if settings.production else ("/graphql", "/graphiql"):
        router = ShopGraphQLRouter(
            schema,
            sockets=sockets,
            metrics=metrics,
            documents=documents,
            public_max_age_seconds=settings.graphql_public_max_age_seconds,
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
