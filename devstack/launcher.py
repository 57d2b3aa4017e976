"""`shop dev`: the whole system on embedded servers, each long-running part its own child.

Ctrl-C stops every child; the data stays under `settings.data_dir` for the next run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from devstack.issuer import dev_issuer
from devstack.servers import (
    EmbeddedPostgres,
    child_env,
    ensure_app_role,
    ensure_database,
    start_temporal_dev_server,
    stop_with_parent,
    terminate,
    wait_for_port,
    with_user,
)
from tenancy import APP_ROLE

if TYPE_CHECKING:
    from settings import Settings

REPOSITORY = Path(__file__).resolve().parent.parent

STACK_FILE = "stack.json"
"""Where a running `shop dev` leaves its addresses (under DATA_DIR) for operator commands."""
ADDRESSES = ("DATABASE_URL", "DATABASE_OWNER_URL", "TEMPORAL_ADDRESS", "PSP_URL")


def running_stack_pid(data_dir: Path) -> int | None:
    """The pid of the `shop dev` running on `data_dir`, if one still runs."""
    try:
        pid = int(json.loads((data_dir / STACK_FILE).read_text())["pid"])
        os.kill(pid, 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return pid


LEFTOVER_SECONDS = 30.0
"""How long a new `shop dev` waits for a killed one's servers to finish stopping."""


def _stop_leftovers(data_dir: Path) -> None:
    """Servers a killed `shop dev` left stopping (each got SIGTERM as it died): wait
    for them, then kill them, so a new Temporal server never meets one still holding
    the same SQLite file.

    Only processes whose command line names `data_dir` are touched, in case a
    pid was reused.
    """
    try:
        pids = [int(pid) for pid in json.loads((data_dir / STACK_FILE).read_text())["servers"]]
    except (OSError, ValueError, KeyError, TypeError):
        return
    deadline = time.monotonic() + LEFTOVER_SECONDS
    for pid in pids:
        while _serves(pid, data_dir):
            if time.monotonic() > deadline:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.1)


def _serves(pid: int, data_dir: Path) -> bool:
    """Whether `pid` is a live (not zombie) process started with `data_dir` in its arguments."""
    try:
        command_line = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z" and str(data_dir).encode() in command_line


def _port_taken(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def running_stack(data_dir: Path) -> dict[str, str]:
    """The addresses of the `shop dev` running on `data_dir`, or {} when none runs.

    So that `./dev audit` (or `./dev events tail`) beside a running `./dev` needs
    no set-up: the settings it does not have, it takes from here.
    """
    try:
        found = json.loads((data_dir / STACK_FILE).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(found, dict):
        return {}  # not ours, or damaged: as if none ran
    return {key: str(found[key]) for key in ADDRESSES if key in found}


def _spawn(command: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """A child `shop COMMAND`, in its own session so Ctrl-C reaches only `dev`, and
    told to stop when `dev` goes, however it goes (SIGKILL included)."""
    return subprocess.Popen(
        [sys.executable, "-m", "cli", command],
        env=env,
        cwd=REPOSITORY,
        start_new_session=True,
        preexec_fn=stop_with_parent,
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
    """Run the whole system until Ctrl-C (or SIGTERM, or the terminal closing: SIGHUP);
    data stays under `settings.data_dir`.

    Children that exit on their own (a worker you killed, say) are restarted,
    which is how a saga interrupted mid-way resumes; one that keeps failing at
    start stops everything with a line that says so.
    """
    data_dir = settings.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    running = running_stack_pid(data_dir)
    if running is not None:
        raise SystemExit(
            f"./dev is already running on {data_dir} (pid {running}): stop it first, "
            "or give this one another DATA_DIR"
        )
    busy = [port for port in (settings.api_port, settings.psp_port) if _port_taken(port)]
    if busy:
        raise SystemExit(
            f"port {busy[0]} is already in use (another ./dev, or another server): "
            "stop it, or set API_PORT / PSP_PORT"
        )
    _stop_leftovers(data_dir)
    (data_dir / STACK_FILE).write_text(json.dumps({"pid": os.getpid()}))
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    postgres: EmbeddedPostgres | None = None
    temporal: subprocess.Popen[bytes] | None = None
    children: dict[str, subprocess.Popen[bytes]] = {}
    try:
        database_url = settings.database_url
        owner_url = settings.database_owner_url or database_url
        if database_url is None:
            postgres = EmbeddedPostgres(data_dir / "postgres")
            asyncio.run(ensure_database(postgres.url(), "shop"))
            asyncio.run(ensure_app_role(postgres.url(), APP_ROLE))
            owner_url = postgres.url("shop")
            database_url = with_user(owner_url, APP_ROLE)
        assert owner_url is not None
        temporal_address = settings.temporal_address
        if temporal_address is None:
            temporal = start_temporal_dev_server(
                db_file=data_dir / "temporal.sqlite",
                port=settings.temporal_port,
                ui_port=settings.temporal_ui_port,
                log_file=data_dir / "temporal.log",
            )
            stack = {"pid": os.getpid(), "servers": [temporal.pid]}
            (data_dir / STACK_FILE).write_text(json.dumps(stack))
            asyncio.run(
                wait_for_port(
                    "127.0.0.1", settings.temporal_port, within=60, what="the Temporal dev server"
                )
            )
            temporal_address = f"127.0.0.1:{settings.temporal_port}"

        from database import migrate

        migrate(owner_url)
        issuer = dev_issuer(data_dir)
        admin_token = issuer.token(subject="dev-admin", roles=["admin"], ttl_seconds=86_400)
        env = child_env(
            {
                **issuer.settings_env(),
                "DEV_GRAPHIQL_TOKEN": admin_token,
                "DATABASE_URL": database_url,
                "DATABASE_OWNER_URL": owner_url,
                "TEMPORAL_ADDRESS": temporal_address,
                "PSP_URL": f"http://127.0.0.1:{settings.psp_port}",
                "PSP_LEDGER_FILE": str(data_dir / "psp-ledger.json"),
                "LOG_FORMAT": os.environ.get("LOG_FORMAT", "console"),
            }
        )
        for name in ("psp", "worker", "projector", "api"):
            children[name] = _spawn(name, env)
        addresses = {key: env[key] for key in ADDRESSES}
        servers = [] if temporal is None else [temporal.pid]
        stack = {"pid": os.getpid(), "servers": servers, **addresses}
        (data_dir / STACK_FILE).write_text(json.dumps(stack))
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
            f"\n  Admin token   {admin_token}\n"
            "  (valid for a day; send it as `Authorization: Bearer <token>`;\n"
            "  `./dev token --sub USER --role customer|admin` makes others)\n"
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
        (data_dir / STACK_FILE).unlink(missing_ok=True)
        # Stop in dependency order: the API first, the servers last.
        terminate([children[n] for n in ("api", "projector", "worker", "psp") if n in children])
        if temporal is not None:
            terminate([temporal])
        if postgres is not None:
            postgres.stop()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


FAILING_START_SECONDS = 10.0
"""A child that exits sooner than this after starting failed at start."""
MAX_FAILED_STARTS = 5


def _supervise(children: dict[str, subprocess.Popen[bytes]], env: dict[str, str]) -> None:
    started = dict.fromkeys(children, time.monotonic())
    failed_starts = dict.fromkeys(children, 0)
    while True:
        time.sleep(0.5)
        for name, process in list(children.items()):
            code = process.poll()
            if code is None:
                continue
            quick = time.monotonic() - started[name] < FAILING_START_SECONDS
            failed_starts[name] = failed_starts[name] + 1 if quick else 0
            if failed_starts[name] >= MAX_FAILED_STARTS:
                raise SystemExit(
                    f"shop {name} failed {MAX_FAILED_STARTS} times in a row at start (exit "
                    f"code {code}); its output above says why. Stopping everything."
                )
            delay = min(2.0 ** failed_starts[name], 30.0) if quick else 0.0
            print(
                f"{name} exited with {code}; restarting it"
                + (f" in {delay:.0f}s" if delay else ""),
                file=sys.stderr,
                flush=True,
            )
            time.sleep(delay)
            children[name] = _spawn(name, env)
            started[name] = time.monotonic()
