"""The projector process: every asynchronous projection, each restarted if it fails."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter

import structlog
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncEngine

from eventstore import FollowedEventStore
from observability.health import database_check, operations_app, projections_check, serve
from observability.metrics import ProjectorMetrics
from projector.parking import parked
from projector.runner import ProjectionRunner
from read_models import ASYNC_PROJECTIONS
from read_models.projection import projection_lag
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


async def _measure_lag(
    engine: AsyncEngine, store: FollowedEventStore, metrics: ProjectorMetrics, every: float
) -> None:
    while True:
        try:
            async with engine.connect() as conn:
                for projection in ASYNC_PROJECTIONS:
                    lag = await projection_lag(conn, store, projection.name)
                    metrics.lag_events.labels(projection.name).set(lag.events)
                    metrics.lag_seconds.labels(projection.name).set(lag.seconds)
                waiting = Counter(entry.projection for entry in await parked(conn))
                for projection in ASYNC_PROJECTIONS:
                    metrics.parked_events.labels(projection.name).set(waiting[projection.name])
                holder = await store.horizon_holder(conn)
                metrics.horizon_held_seconds.set(0 if holder is None else holder.seconds)
        except Exception:
            log.exception("could not measure projection lag")
        await asyncio.sleep(every)


async def run_projector(settings: Settings, engine: AsyncEngine, store: FollowedEventStore) -> None:
    """Run every asynchronous projection until SIGINT or SIGTERM."""
    metrics = ProjectorMetrics.create(REGISTRY)
    tasks = [
        asyncio.create_task(
            _supervise(
                ProjectionRunner(
                    engine,
                    store,
                    projection,
                    batch_size=settings.projector_batch_size,
                    poll_seconds=settings.projector_poll_seconds,
                    metrics=metrics,
                ),
                projection.name,
            )
        )
        for projection in ASYNC_PROJECTIONS
    ]
    tasks.append(asyncio.create_task(_measure_lag(engine, store, metrics, every=1.0)))
    checks = {
        "database": database_check(engine),
        "projections": projections_check(
            engine, store, ASYNC_PROJECTIONS, max_lag_seconds=settings.projector_max_lag_seconds
        ),
    }
    tasks.append(
        asyncio.create_task(
            serve(
                operations_app(REGISTRY, checks),
                host="0.0.0.0",
                port=settings.projector_metrics_port,
            )
        )
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("projector started", projections=[p.name for p in ASYNC_PROJECTIONS])
    await stop.wait()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    log.info("projector stopped")
