"""The Temporal worker process: the command and saga workflows and their activities.

One process polls every task queue here; in production each bounded context's
queue can get its own deployment (`running_worker` is the place to split).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import structlog
from prometheus_client import REGISTRY, CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker, WorkerDeploymentConfig

import bootstrap
from activities.command import CommandActivities
from activities.order_saga import SagaActivities
from observability.health import database_check, operations_app, serve, temporal_check
from read_models import INLINE_PROJECTIONS
from settings import Settings
from workflows.command import CommandWorkflow
from workflows.order_saga import OrderSaga

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class RunningWorker:
    workers: list[Worker]
    engine: AsyncEngine


@asynccontextmanager
async def running_worker(
    settings: Settings, client: Client, *, registry: CollectorRegistry = REGISTRY
) -> AsyncIterator[RunningWorker]:
    """Workers polling every task queue until the block exits.

    `client` comes from `bootstrap.temporal_client`, whose tracing interceptor
    the workers inherit. Metrics go to `registry` (a test passes its own, so
    several workers can share a process).
    """
    async with AsyncExitStack() as stack:
        engine = bootstrap.database_engine(settings)
        stack.push_async_callback(engine.dispose)
        store = bootstrap.event_store()
        provider = await stack.enter_async_context(
            bootstrap.payment_provider(settings, registry=registry)
        )
        commands = CommandActivities(
            engine, store, INLINE_PROJECTIONS, conflict_retries=settings.version_conflict_retries
        )
        saga = SagaActivities(
            engine,
            store,
            INLINE_PROJECTIONS,
            provider,
            shipping_max_units=settings.shipping_max_units,
            fraud_review_above=settings.fraud_review_above,
            conflict_retries=settings.version_conflict_retries,
        )
        # Each bounded context's activities on its own task queue (sagas from
        # before `LOCAL_DATABASE_STEPS` still schedule theirs there).
        queues: list[tuple[str, Sequence[type], Sequence[Any]]] = [
            (settings.command_task_queue, [CommandWorkflow], [commands.execute_command]),
            (
                settings.orders_task_queue,
                [OrderSaga],
                # The saga's local activities run here, beside it: placing the
                # order and the steps that only touch our database.
                [
                    saga.place_order,
                    saga.reserve_stock,
                    saga.check_fraud,
                    saga.arrange_shipping,
                    saga.confirm_order,
                    saga.begin_compensation,
                    saga.close_order,
                ],
            ),
            (settings.inventory_task_queue, [], [saga.reserve_stock, saga.release_stock]),
            (settings.payments_task_queue, [], [saga.process_payment, saga.refund_payment]),
            (settings.shipping_task_queue, [], [saga.arrange_shipping, saga.cancel_shipment]),
        ]
        deployment = deployment_config(settings)
        workers = [
            Worker(
                client,
                task_queue=queue,
                workflows=workflows,
                activities=activities,
                deployment_config=deployment,
            )
            for queue, workflows, activities in _one_per_queue(queues)
        ]
        for worker in workers:
            await stack.enter_async_context(worker)
        yield RunningWorker(workers=workers, engine=engine)


def deployment_config(settings: Settings) -> WorkerDeploymentConfig:
    """This build's place in its Worker Deployment: every workflow task it completes
    records the build id, and with WORKER_VERSIONING the server routes by it.

    Running workflows move to each new current build (auto-upgrade) rather than
    staying pinned to the one they started on: `workflow.patched` keeps them
    replaying, and `shop replay --running` checks that before a build is made current.
    """
    versioned = settings.worker_versioning
    return WorkerDeploymentConfig(
        version=WorkerDeploymentVersion(
            deployment_name=settings.worker_deployment, build_id=settings.worker_build_id
        ),
        use_worker_versioning=versioned,
        default_versioning_behavior=(
            VersioningBehavior.AUTO_UPGRADE if versioned else VersioningBehavior.UNSPECIFIED
        ),
    )


def _one_per_queue(
    queues: Sequence[tuple[str, Sequence[type], Sequence[Any]]],
) -> list[tuple[str, list[type], list[Any]]]:
    """One worker per task queue name, with everything meant for that queue.

    Contexts configured onto one queue (say PAYMENTS_TASK_QUEUE set to the
    orders queue) share a worker, so the saga's activities there start eagerly,
    in the worker that schedules them, without a round trip to the server.
    """
    merged: dict[str, tuple[list[type], list[Any]]] = {}
    for queue, workflows, activities in queues:
        held_workflows, held_activities = merged.setdefault(queue, ([], []))
        held_workflows += [w for w in workflows if w not in held_workflows]
        held_activities += [a for a in activities if a not in held_activities]
    return [(queue, *held) for queue, held in merged.items()]


async def main(settings: Settings) -> None:
    """Run the workers until SIGINT or SIGTERM, then finish in-flight tasks and exit.

    The Temporal SDK's metrics are served on WORKER_SDK_METRICS_PORT by its own
    exporter; ours, with /healthz and /readyz, on WORKER_METRICS_PORT.
    """
    runtime = Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(bind_address=f"0.0.0.0:{settings.worker_sdk_metrics_port}")
        )
    )
    client = await bootstrap.temporal_client(settings, runtime=runtime)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with running_worker(settings, client) as running:
        checks = {"database": database_check(running.engine), "temporal": temporal_check(client)}
        operations = asyncio.create_task(
            serve(
                operations_app(REGISTRY, checks), host="0.0.0.0", port=settings.worker_metrics_port
            )
        )
        log.info("worker started", task_queues=[w.task_queue for w in running.workers])
        await stop.wait()
        operations.cancel()
    log.info("worker stopped")
