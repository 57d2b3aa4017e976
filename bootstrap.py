"""The composition root: every process builds its parts here, from one `Settings`.

`cli.py` (every process is a `shop` command) and `worker.py` take what they
need from this module; nothing below them builds its own engine, event store,
Temporal client or payment provider. This is also the only module that names
the PostgreSQL event store and turns settings into the saga's contract.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import Runtime

from api.auth.tokens import TokenVerifier
from api.commands.sagas import SagaClient
from api.commands.sender import CommandSender
from api.graphql.context import Services
from api.guards.read_cache import ReadCache
from api.http.app import create_app
from database import create_engine
from domain.registry import ALL_EVENTS
from domain.upcasters import UPCASTERS
from eventstore import EventRegistry, FollowedEventStore
from eventstore.listener import LogListener
from eventstore.postgres import PostgresEventStore
from observability.health import database_check, projections_check, temporal_check
from observability.tracing import instrument_engine, instrument_http_client
from psp.client import HttpPaymentProvider
from read_models import ASYNC_PROJECTIONS
from settings import Settings
from tenancy import scope_transactions
from workflows.contracts import SagaTimeouts, TaskQueues


def database_engine(settings: Settings, *, pool_size: int = 10) -> AsyncEngine:
    """The engine of the api, worker and projector: the app role, each transaction begun as
    the tenant it acts for, traced."""
    engine = create_engine(settings.require_database_url(), pool_size=pool_size)
    scope_transactions(engine)
    instrument_engine(engine)
    return engine


def owner_engine(settings: Settings) -> AsyncEngine:
    """The engine of the operator commands: the owner role, which sees every tenant."""
    engine = create_engine(settings.require_database_owner_url(), pool_size=2)
    instrument_engine(engine)
    return engine


def event_registry() -> EventRegistry:
    """Every event type the system has stored, each older version with its upcaster."""
    return EventRegistry(ALL_EVENTS, UPCASTERS)


def event_store() -> FollowedEventStore:
    """The event store on PostgreSQL, reading every event type the system has stored."""
    return PostgresEventStore(event_registry())


async def temporal_client(settings: Settings, *, runtime: Runtime | None = None) -> Client:
    """The one way any process connects to Temporal: pydantic payloads, traced.

    Workers built on this client inherit its tracing interceptor, so a trace
    follows a request from the API through the workflow into the activities.
    """
    return await Client.connect(
        settings.require_temporal_address(),
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        interceptors=[TracingInterceptor()],
        runtime=runtime,
    )


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


@asynccontextmanager
async def payment_provider(
    settings: Settings, *, registry: CollectorRegistry
) -> AsyncIterator[HttpPaymentProvider]:
    """The payment provider's HTTP client, open until the block exits."""
    async with httpx.AsyncClient(base_url=settings.psp_url) as http:
        instrument_http_client(http)
        yield HttpPaymentProvider(
            http,
            timeout_seconds=settings.psp_timeout_seconds,
            failure_threshold=settings.psp_breaker_failures,
            recovery_seconds=settings.psp_breaker_recovery_seconds,
            registry=registry,
        )


def token_verifier(settings: Settings) -> TokenVerifier:
    """The verifier of bearer tokens; the API does not start without an issuer to trust."""
    if settings.auth_issuer is None:
        raise RuntimeError(
            "AUTH_ISSUER is not set: the API trusts no token issuer. Set AUTH_ISSUER, "
            "AUTH_AUDIENCE and one of AUTH_JWKS_URL, AUTH_PUBLIC_KEY_FILE or "
            "AUTH_SHARED_SECRET (`./dev` sets up its own issuer)."
        )
    public_key = settings.auth_public_key_file
    secret = settings.auth_shared_secret
    return TokenVerifier(
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
        algorithms=settings.auth_algorithms,
        jwks_url=settings.auth_jwks_url,
        public_key=None if public_key is None else public_key.read_text(),
        shared_secret=None if secret is None else secret.get_secret_value(),
        roles_claim=settings.auth_roles_claim,
        tenant_claim=settings.auth_tenant_claim,
        leeway_seconds=settings.auth_leeway_seconds,
        jwks_cooldown_seconds=settings.auth_jwks_cooldown_seconds,
    )


@asynccontextmanager
async def api_services(settings: Settings) -> AsyncIterator[Services]:
    """What the API opens at start-up and every request shares."""
    verifier = token_verifier(settings)
    engine = database_engine(settings)
    client = await temporal_client(settings)
    listener = LogListener(engine)
    read_cache = ReadCache(
        entries=settings.read_cache_entries,
        seconds=settings.read_cache_seconds,
        max_bytes=settings.read_cache_max_bytes,
    )
    listener.on_change(read_cache.invalidate)
    await listener.start()
    try:
        yield Services(
            engine=engine,
            checks={
                "database": database_check(engine),
                "temporal": temporal_check(client),
                "projections": projections_check(
                    engine,
                    event_store(),
                    ASYNC_PROJECTIONS,
                    max_lag_seconds=settings.projector_max_lag_seconds,
                ),
            },
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
            notifications=listener,
            verifier=verifier,
            subscription_recheck_seconds=settings.subscription_recheck_seconds,
            read_cache=read_cache,
        )
    finally:
        await listener.stop()
        await engine.dispose()


def api_app(
    settings: Settings,
    *,
    registry: CollectorRegistry | None = None,
    internal_port: int | None = None,
) -> FastAPI:
    """The API application, its services opened with its lifespan (and, given
    `internal_port`, its operations server)."""
    return create_app(
        settings,
        open_services=lambda: api_services(settings),
        registry=registry,
        internal_port=internal_port,
    )
