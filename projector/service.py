"""The projector process: every asynchronous projection, each restarted if it fails."""

from __future__ import annotations

import asyncio
import signal

import structlog

from database import create_engine
from domain.registry import ALL_EVENTS
from eventstore import EventRegistry, PostgresEventStore
from projector.runner import ProjectionRunner
from read_models import ASYNC_PROJECTIONS
from settings import Settings

log = structlog.get_logger(__name__)


async def _supervise(runner: ProjectionRunner, name: str) -> None:
    delay = 1.0
    while True:
        try:
            await runner.run()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("projection failed; restarting", projection=name, delay=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)


async def main(settings: Settings) -> None:
    engine = create_engine(settings.require_database_url())
    store = PostgresEventStore(EventRegistry(ALL_EVENTS))
    tasks = [
        asyncio.create_task(
            _supervise(
                ProjectionRunner(
                    engine,
                    store,
                    projection,
                    batch_size=settings.projector_batch_size,
                    poll_seconds=settings.projector_poll_seconds,
                ),
                projection.name,
            )
        )
        for projection in ASYNC_PROJECTIONS
    ]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("projector started", projections=[p.name for p in ASYNC_PROJECTIONS])
    await stop.wait()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await engine.dispose()
    log.info("projector stopped")
