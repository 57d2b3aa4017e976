"""The Temporal worker process: command workflows and the activities behind them."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker

from activities.commands import CommandActivities
from database import create_engine
from domain.registry import ALL_EVENTS
from eventstore import EventRegistry, PostgresEventStore
from read_models import INLINE_PROJECTIONS
from settings import Settings
from workflows.command import CommandWorkflow

log = structlog.get_logger(__name__)


async def connect_temporal(settings: Settings) -> Client:
    """A Temporal client that carries pydantic payloads."""
    return await Client.connect(
        settings.require_temporal_address(),
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
    )


@asynccontextmanager
async def running_worker(settings: Settings, client: Client) -> AsyncIterator[Worker]:
    """A worker polling the command task queue until the block exits."""
    engine = create_engine(settings.require_database_url())
    activities = CommandActivities(
        engine,
        PostgresEventStore(EventRegistry(ALL_EVENTS)),
        INLINE_PROJECTIONS,
        conflict_retries=settings.version_conflict_retries,
    )
    worker = Worker(
        client,
        task_queue=settings.command_task_queue,
        workflows=[CommandWorkflow],
        activities=[activities.execute_command],
    )
    try:
        async with worker:
            yield worker
    finally:
        await engine.dispose()


async def main(settings: Settings) -> None:
    """Run the worker until SIGINT or SIGTERM, then finish in-flight tasks and exit."""
    client = await connect_temporal(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with running_worker(settings, client):
        log.info("worker started", task_queue=settings.command_task_queue)
        await stop.wait()
    log.info("worker stopped")
