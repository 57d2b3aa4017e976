"""The FastAPI application: GraphQL at /graphql (GraphiQL at /graphql and /graphiql)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI, Request, WebSocket
from prometheus_client import CollectorRegistry
from strawberry.fastapi import GraphQLRouter

from api.context import Context, Services, context_from_request
from api.schema import build_schema
from observability.health import (
    Check,
    add_operations_routes,
    database_check,
    projections_check,
    temporal_check,
)
from observability.metrics import ApiMetrics
from read_models import ASYNC_PROJECTIONS
from settings import Settings


def create_app(
    settings: Settings,
    *,
    open_services: Callable[[], AbstractAsyncContextManager[Services]],
    registry: CollectorRegistry | None = None,
) -> FastAPI:
    """Build the API; `open_services` (see `bootstrap.api_services`) runs with its lifespan.

    Metrics go to `registry` (by default one of the app's own), served at `/metrics`.
    """
    registry = registry or CollectorRegistry()
    metrics = ApiMetrics.create(registry)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_services() as services:
            app.state.services = services
            yield

    app = FastAPI(title="shop", lifespan=lifespan)

    async def get_context(request: Request = None, websocket: WebSocket = None) -> Context:  # type: ignore[assignment]
        connection = request if request is not None else websocket
        return context_from_request(connection, connection.app.state.services)

    schema = build_schema(metrics)
    app.include_router(GraphQLRouter(schema, context_getter=get_context), prefix="/graphql")
    app.include_router(GraphQLRouter(schema, context_getter=get_context), prefix="/graphiql")

    def checks() -> dict[str, Check]:
        services: Services = app.state.services
        return {
            "database": database_check(services.engine),
            "temporal": temporal_check(services.temporal),
            "projections": projections_check(
                services.engine,
                services.store,
                ASYNC_PROJECTIONS,
                max_lag_seconds=settings.projector_max_lag_seconds,
            ),
        }

    add_operations_routes(app, registry=registry, checks=checks)
    return app
