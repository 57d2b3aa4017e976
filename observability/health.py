"""Health and readiness: `/healthz` says the process is up, `/readyz` that it can serve."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence

import sqlalchemy as sa
from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from eventstore import FollowedEventStore, HorizonHolder
from read_models.projection import Projection, projection_lag

Check = Callable[[], Awaitable[str | None]]
"""Answers None when all is well, or what is wrong."""

CHECK_TIMEOUT_SECONDS = 2.0


def database_check(engine: AsyncEngine) -> Check:
    async def check() -> str | None:
        async with engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
        return None

    return check


def temporal_check(client: Client) -> Check:
    async def check() -> str | None:
        await client.service_client.check_health()
        return None

    return check


def projections_check(
    engine: AsyncEngine,
    store: FollowedEventStore,
    projections: Sequence[Projection],
    *,
    max_lag_seconds: float,
) -> Check:
    """Unready while an asynchronous projection trails the log by more than `max_lag_seconds`,
    or an open transaction has held every follower back for longer."""

    async def check() -> str | None:
        behind = []
        async with engine.connect() as conn:
            for projection in projections:
                lag = await projection_lag(conn, store, projection.name)
                if lag.seconds > max_lag_seconds:
                    behind.append(f"{projection.name} is {lag.seconds:.0f}s behind")
            holder = await store.horizon_holder(conn)
        if holder is not None and holder.seconds > max_lag_seconds:
            behind.append(held_back(holder))
        return "; ".join(behind) or None

    return check


def held_back(holder: HorizonHolder) -> str:
    application = f" ({holder.application})" if holder.application else ""
    return (
        f"a transaction of pid {holder.pid}{application} has been open for "
        f"{holder.seconds:.0f}s and holds every follower back"
    )


async def run_checks(checks: Mapping[str, Check]) -> tuple[bool, dict[str, str]]:
    async def one(check: Check) -> str:
        try:
            problem = await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
        except Exception as error:
            return f"unavailable: {type(error).__name__}"
        return "ok" if problem is None else problem

    results = await asyncio.gather(*(one(check) for check in checks.values()))
    report = dict(zip(checks, results, strict=True))
    return all(result == "ok" for result in results), report


def add_operations_routes(
    app: FastAPI,
    *,
    registry: CollectorRegistry,
    checks: Callable[[], Mapping[str, Check]],
    metrics: bool = True,
) -> None:
    """`/metrics` (unless `metrics` is False), `/healthz` and `/readyz` on `app`;
    `checks` is read per request."""
    if metrics:

        @app.get("/metrics", include_in_schema=False)
        async def serve_metrics() -> Response:
            return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        """The process can do its job: what it depends on answers."""
        ready, report = await run_checks(checks())
        return JSONResponse({"ready": ready, **report}, status_code=200 if ready else 503)


def operations_app(
    registry: CollectorRegistry,
    checks: Mapping[str, Check] | Callable[[], Mapping[str, Check]],
) -> FastAPI:
    """The small internal HTTP server of every process: /metrics, /healthz and /readyz."""
    app = FastAPI(title="operations", openapi_url=None, docs_url=None, redoc_url=None)
    read_checks = checks if callable(checks) else lambda: checks
    add_operations_routes(app, registry=registry, checks=read_checks)
    return app


async def serve(app: FastAPI, *, host: str, port: int) -> None:
    """Serve `app` until cancelled; the process, not this server, handles its signals."""
    import uvicorn

    class SecondaryServer(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    server = SecondaryServer(
        uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False)
    )
    await server.serve()


@contextlib.contextmanager
def served_in_background(app: FastAPI, *, port: int) -> Iterator[None]:
    """Serve `app` on all interfaces at `port` while the block runs."""
    task = asyncio.get_running_loop().create_task(serve(app, host="0.0.0.0", port=port))
    try:
        yield
    finally:
        task.cancel()
