"""The Temporal worker process: the command and saga workflows and their activities.

One process polls every task queue here; in production each bounded context's
queue can get its own deployment (`running_worker` is the place to split).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
import structlog
from prometheus_client import REGISTRY, CollectorRegistry
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker

from activities.commands import CommandActivities
from activities.order_saga import SagaActivities
from database import create_engine
from domain.registry import ALL_EVENTS
from eventstore import EventRegistry, PostgresEventStore
from psp.client import HttpPaymentProvider
from read_models import INLINE_PROJECTIONS
from settings import Settings
from workflows.command import CommandWorkflow
from workflows.order_saga import OrderSaga

log = structlog.get_logger(__name__)


async def connect_temporal(settings: Settings) -> Client:
    """A Temporal client that carries pydantic payloads."""
    return await Client.connect(
        settings.require_temporal_address(),
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
    )


@asynccontextmanager
async def running_worker(
    settings: Settings, client: Client, *, registry: CollectorRegistry = REGISTRY
) -> AsyncIterator[list[Worker]]:
    """Workers polling every task queue until the block exits.

    Metrics go to `registry` (a test passes its own, so several workers can share a process).
    """
    async with AsyncExitStack() as stack:
        engine = create_engine(settings.require_database_url())
        stack.push_async_callback(engine.dispose)
        store = PostgresEventStore(EventRegistry(ALL_EVENTS))
        psp = await stack.enter_async_context(httpx.AsyncClient(base_url=settings.psp_url))
        commands = CommandActivities(
            engine, store, INLINE_PROJECTIONS, conflict_retries=settings.version_conflict_retries
        )
        saga = SagaActivities(
            engine,
            store,
            INLINE_PROJECTIONS,
            HttpPaymentProvider(
                psp,
                timeout_seconds=settings.psp_timeout_seconds,
                failure_threshold=settings.psp_breaker_failures,
                recovery_seconds=settings.psp_breaker_recovery_seconds,
                registry=registry,
            ),
            shipping_max_units=settings.shipping_max_units,
            conflict_retries=settings.version_conflict_retries,
        )
        queues: list[tuple[str, Sequence[type], Sequence[Any]]] = [
            (settings.command_task_queue, [CommandWorkflow], [commands.execute_command]),
            (
                settings.orders_task_queue,
                [OrderSaga],
                [saga.place_order, saga.confirm_order, saga.begin_compensation, saga.close_order],
            ),
            (settings.inventory_task_queue, [], [saga.reserve_stock, saga.release_stock]),
            (settings.payments_task_queue, [], [saga.process_payment, saga.refund_payment]),
            (settings.shipping_task_queue, [], [saga.arrange_shipping, saga.cancel_shipment]),
        ]
        workers = [
            Worker(client, task_queue=queue, workflows=workflows, activities=activities)
            for queue, workflows, activities in queues
        ]
        for worker in workers:
            await stack.enter_async_context(worker)
        yield workers


async def main(settings: Settings) -> None:
    """Run the workers until SIGINT or SIGTERM, then finish in-flight tasks and exit."""
    client = await connect_temporal(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with running_worker(settings, client) as workers:
        log.info("worker started", task_queues=[w.task_queue for w in workers])
        await stop.wait()
    log.info("worker stopped")
