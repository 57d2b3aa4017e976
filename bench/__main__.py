"""`python -m bench [--quick] [--only NAME ...] [--soak DURATION]`: run the benchmarks
(or the soak, see `bench.soak`) and write the report.

Starts its own embedded PostgreSQL and Temporal dev server, unless
DATABASE_URL / TEMPORAL_ADDRESS name servers to use (a fresh database is
created on the given server either way).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import uvicorn
from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from bench import processes, progress, report, snapshots, soak, storage, system
from bench.harness import Result
from database import create_engine, migrate
from devstack.servers import (
    SEARCH_ATTRIBUTES,
    EmbeddedPostgres,
    ensure_app_role,
    ensure_database,
    temporal_cli,
    with_database,
)
from domain.registry import ALL_EVENTS
from eventstore import EventRegistry
from eventstore.postgres import PostgresEventStore
from observability.logs import configure_logging
from psp.simulator import create_simulator
from tenancy import APP_ROLE

RESULTS = Path(__file__).resolve().parent / "results"
GROUPS = (
    "append",
    "read",
    "follower",
    "snapshot",
    "saga",
    "processes",
    "command",
    "graphql",
)


@asynccontextmanager
async def postgres(workdir: Path) -> AsyncIterator[str]:
    """The server's URL: DATABASE_URL's, or an embedded PostgreSQL's for this run."""
    server_url = os.environ.get("DATABASE_URL")
    if server_url is not None:
        yield server_url
        return
    embedded = EmbeddedPostgres(workdir / "pg", delete_on_stop=True)
    try:
        yield embedded.url()
    finally:
        embedded.stop()


async def fresh_database(server_url: str) -> str:
    """A new, migrated database, so that no benchmark sees another's rows."""
    name = f"shop_bench_{uuid.uuid4().hex[:8]}"
    await ensure_database(server_url, name)
    await ensure_app_role(server_url, APP_ROLE)
    url = with_database(server_url, name)
    await asyncio.to_thread(migrate, url)
    return url


@asynccontextmanager
async def temporal() -> AsyncIterator[Client]:
    address = os.environ.get("TEMPORAL_ADDRESS")
    if address:
        yield await Client.connect(address, data_converter=pydantic_data_converter)
        return
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli(),
        data_converter=pydantic_data_converter,
        search_attributes=[SearchAttributeKey.for_keyword(n) for n in SEARCH_ATTRIBUTES],
    )
    try:
        yield env.client
    finally:
        await env.shutdown()


@asynccontextmanager
async def payment_provider() -> AsyncIterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_simulator(), host="127.0.0.1", port=port, log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers a flag, not an event)
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def run(groups: list[str], *, quick: bool) -> list[Result]:
    with progress.showing(len(groups)) as display:
        return await _run(groups, quick=quick, display=display)


async def _run(groups: list[str], *, quick: bool, display: progress.Display) -> list[Result]:
    repeat = 1 if quick else 3
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as workdir:
        async with (
            postgres(Path(workdir)) as server,
            temporal() as client,
            payment_provider() as psp,
        ):
            url = await fresh_database(server)
            engine = create_engine(url, pool_size=40)
            pool = await asyncpg.create_pool(storage.asyncpg_dsn(url), min_size=4, max_size=40)
            store = PostgresEventStore(EventRegistry(ALL_EVENTS))
            target = storage.Storage(url, engine, store, pool)
            try:
                if "append" in groups:
                    with display.group("append"):
                        results += await storage.append_benchmarks(
                            target, quick=quick, repeat=repeat
                        )
                if "read" in groups:
                    with display.group("read"):
                        results += await storage.read_benchmarks(target, quick=quick, repeat=repeat)
                if "follower" in groups:
                    with display.group("follower"):
                        results += await storage.follower_benchmark(
                            target, quick=quick, repeat=repeat
                        )
                if "snapshot" in groups:
                    with display.group("snapshot"):
                        results += await snapshots.snapshot_benchmark(
                            target, quick=quick, repeat=repeat
                        )
            finally:
                # Closed before the system starts: their connections would count
                # against the server's max_connections beside the system's own.
                await pool.close()
                await engine.dispose()
            if {"saga", "command", "graphql"} & set(groups):
                system_url = await fresh_database(server)
                async with system.running_system(system_url, client, psp) as running:
                    if "saga" in groups:
                        with display.group("saga"):
                            results += await system.saga_benchmark(
                                running, quick=quick, repeat=repeat
                            )
                    if "command" in groups:
                        with display.group("command"):
                            results += await system.command_benchmark(
                                running, quick=quick, repeat=repeat
                            )
                    if "graphql" in groups:
                        with display.group("graphql"):
                            results += await system.graphql_read_benchmark(
                                running, quick=quick, repeat=repeat
                            )
            if "processes" in groups:
                with display.group("processes"):
                    results += await processes.saga_processes_benchmark(
                        await fresh_database(server), client, psp, quick=quick, repeat=repeat
                    )
    return results


async def run_soak(seconds: float) -> soak.Soak:
    with tempfile.TemporaryDirectory() as workdir:
        async with (
            postgres(Path(workdir)) as server,
            temporal() as client,
            payment_provider() as psp,
        ):
            return await soak.soak(await fresh_database(server), client, psp, seconds=seconds)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="small sizes: checks they run, not timing"
    )
    parser.add_argument("--only", nargs="+", choices=GROUPS, default=list(GROUPS))
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the report")
    parser.add_argument(
        "--soak",
        metavar="DURATION",
        type=soak.duration_seconds,
        help="instead of the benchmarks, hold half the measured saga rate for DURATION "
        "(90s, 10m, 1h) and report latency, memory and the audit (not in CI)",
    )
    args = parser.parse_args()
    configure_logging(log_format="console", level="WARNING")
    if args.soak is not None:
        soaked = asyncio.run(run_soak(args.soak))
        text = soak.markdown(soaked)
        args.output.mkdir(parents=True, exist_ok=True)
        (args.output / "soak.md").write_text(text)
        print(text)
        raise SystemExit(0 if soak.healthy(soaked) else 1)
    results = asyncio.run(run(args.only, quick=args.quick))
    args.output.mkdir(parents=True, exist_ok=True)
    name = "quick" if args.quick else "latest"
    text = report.markdown(results, quick=args.quick, machine=report.machine())
    (args.output / f"{name}.md").write_text(text)
    report.chart(results, args.output / f"{name}.png")
    print(text)


if __name__ == "__main__":
    main()
