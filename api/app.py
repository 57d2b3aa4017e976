"""The FastAPI application: GraphQL at /graphql (GraphiQL at /graphql and /graphiql)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI, Request, WebSocket
from prometheus_client import CollectorRegistry
from strawberry.fastapi import GraphQLRouter
from temporalio.client import Client
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.contrib.pydantic import pydantic_data_converter

from api.commands import CommandSender
from api.context import Context, Services, context_from_request
from api.saga_client import SagaClient
from api.schema import build_schema
from database import create_engine
from observability.health import (
    Check,
    add_operations_routes,
    database_check,
    projections_check,
    temporal_check,
)
from observability.metrics import ApiMetrics
from observability.tracing import instrument_engine
from read_models import ASYNC_PROJECTIONS
from read_models.notifications import LogListener
from settings import Settings
from workflows.contracts import SagaTimeouts, TaskQueues


def task_queues(settings: Settings) -> TaskQueues:
    return TaskQueues(
        orders=settings.orders_task_queue,
        inventory=settings.inventory_task_queue,
        payments=settings.payments_task_queue,
        shipping=settings.shipping_task_queue,
    )


def saga_timeouts(settings: Settings) -> SagaTimeouts:
    return SagaTimeouts(
        step_seconds=settings.saga_step_seconds,
        step_deadline_seconds=settings.saga_step_deadline_seconds,
        payment_deadline_seconds=settings.payment_deadline_seconds,
        compensation_deadline_seconds=settings.compensation_deadline_seconds,
        retry_initial_seconds=settings.saga_retry_initial_seconds,
        retry_max_seconds=settings.saga_retry_max_seconds,
    )


def create_app(settings: Settings, *, registry: CollectorRegistry | None = None) -> FastAPI:
    """Build the API; its database engine and Temporal client open with the app's lifespan.

    Metrics go to `registry` (by default one of the app's own), served at `/metrics`.
    """
    registry = registry or CollectorRegistry()
    metrics = ApiMetrics.create(registry)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.require_database_url())
        instrument_engine(engine)
        client = await Client.connect(
            settings.require_temporal_address(),
            namespace=settings.temporal_namespace,
            data_converter=pydantic_data_converter,
            interceptors=[TracingInterceptor()],
        )
        listener = LogListener(engine)
        await listener.start()
        app.state.engine = engine
        app.state.temporal = client
        app.state.services = Services(
            engine=engine,
            commands=CommandSender(
                client,
                task_queue=settings.command_task_queue,
                timeout=settings.command_timeout,
                activity_timeout=settings.command_activity_timeout,
            ),
            sagas=SagaClient(
                client,
                queues=task_queues(settings),
                timeouts=saga_timeouts(settings),
                placement_timeout=timedelta(seconds=settings.order_placement_timeout_seconds),
            ),
            listener=listener,
        )
        try:
            yield
        finally:
            await listener.stop()
            await engine.dispose()

    app = FastAPI(title="shop", lifespan=lifespan)

    async def get_context(request: Request = None, websocket: WebSocket = None) -> Context:  # type: ignore[assignment]
        connection = request if request is not None else websocket
        return context_from_request(connection, connection.app.state.services)

    schema = build_schema(metrics)
    app.include_router(GraphQLRouter(schema, context_getter=get_context), prefix="/graphql")
    app.include_router(GraphQLRouter(schema, context_getter=get_context), prefix="/graphiql")

    def checks() -> dict[str, Check]:
        engine = app.state.engine
        return {
            "database": database_check(engine),
            "temporal": temporal_check(app.state.temporal),
            "projections": projections_check(
                engine, ASYNC_PROJECTIONS, max_lag_seconds=settings.projector_max_lag_seconds
            ),
        }

    add_operations_routes(app, registry=registry, checks=checks)
    return app
