"""`./bench/run --soak 10m`: hold half the measured saga rate for a while, and watch.

Not part of CI. The API, the worker and the projector run as separate
processes, as in production. A short burst measures the most orders per second
they confirm; the soak then places orders at half that rate for the duration
and reports createOrder's latency (p50 and p99, minute by minute), the resident
memory of every process after the warm-up and at the end (growth past 10% is a
leak to chase), and what `shop audit` says of the books at the end.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client

import bootstrap
from bench.harness import percentile
from database import create_engine
from devstack.issuer import DevIssuer
from devstack.servers import terminate, with_user
from ops.audit import AuditReport, run_audit
from psp.client import provider_ledger
from tenancy import APP_ROLE

BURST_SECONDS = 20.0
BURST_CONCURRENCY = 32
WARM_UP_FRACTION = 0.1
"""Memory is first measured this far into the soak: after imports, pools and caches settle."""
ALLOWED_GROWTH = 0.10
CREATE_ORDER = (
    'mutation($p: ID!) { createOrder(input: {userId: "soak", '
    "items: [{productId: $p, quantity: 1}]}) { id } }"
)


def duration_seconds(text: str) -> float:
    """`90s`, `10m`, `1h` (or plain seconds) in seconds."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smh]?)", text.strip())
    if match is None:
        raise ValueError(f"not a duration: {text!r} (try 90s, 10m or 1h)")
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


def resident_kib(pid: int) -> int:
    """The process's resident set size (Linux's /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise LookupError(f"no VmRSS for pid {pid}")


@dataclass
class Processes:
    api_url: str
    token: str
    children: dict[str, subprocess.Popen[bytes]]

    def memory(self) -> dict[str, int]:
        return {name: resident_kib(child.pid) for name, child in self.children.items()}

    def client(self) -> httpx.AsyncClient:
        """An HTTP client of the API, signed in as an admin."""
        return httpx.AsyncClient(
            base_url=self.api_url, timeout=60, headers={"authorization": f"Bearer {self.token}"}
        )


@asynccontextmanager
async def shop_processes(
    database_url: str, client: Client, psp_url: str, workdir: Path
) -> AsyncIterator[Processes]:
    """`shop api`, `shop worker` and `shop projector`, each its own OS process."""
    issuer = DevIssuer(workdir / "issuer")
    trusted = issuer.trusted_by()
    api_port = _free_port()
    env = {
        **os.environ,
        "SHOP_ENV": "development",
        "DATABASE_URL": with_user(database_url, APP_ROLE),
        "DATABASE_OWNER_URL": database_url,
        "TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "PSP_URL": psp_url,
        "AUTH_ISSUER": trusted["auth_issuer"],
        "AUTH_AUDIENCE": trusted["auth_audience"],
        "AUTH_ALGORITHMS": json.dumps(trusted["auth_algorithms"]),
        "AUTH_PUBLIC_KEY_FILE": str(trusted["auth_public_key_file"]),
        "API_PORT": str(api_port),
        "API_METRICS_PORT": str(_free_port()),
        "WORKER_METRICS_PORT": str(_free_port()),
        "WORKER_SDK_METRICS_PORT": str(_free_port()),
        "PROJECTOR_METRICS_PORT": str(_free_port()),
        "LOG_LEVEL": "WARNING",
    }
    children = {name: _spawn(name, env, workdir) for name in ("worker", "projector", "api")}
    try:
        api_url = f"http://127.0.0.1:{api_port}"
        await _until_serving(api_url)
        token = issuer.token(subject="soak", roles=["admin"], ttl_seconds=86_400)
        yield Processes(api_url=api_url, token=token, children=children)
    finally:
        terminate(list(children.values()))


@dataclass
class Soak:
    """What the soak measured."""

    max_rate: float = 0.0
    rate: float = 0.0
    seconds: float = 0.0
    latencies: list[tuple[float, float]] = field(default_factory=list)
    """(seconds into the soak, createOrder's latency in ms)."""
    failures: int = 0
    memory_start: dict[str, int] = field(default_factory=dict)
    memory_end: dict[str, int] = field(default_factory=dict)
    audit: AuditReport | None = None


async def soak(database_url: str, client: Client, psp_url: str, *, seconds: float) -> Soak:
    result = Soak(seconds=seconds)
    with tempfile.TemporaryDirectory() as workdir:
        async with (
            shop_processes(database_url, client, psp_url, Path(workdir)) as shop,
            shop.client() as http,
        ):
            products = itertools.cycle(await stocked_catalog(http, products=20))

            async def order() -> str:
                body = (
                    await http.post(
                        "/graphql",
                        json={"query": CREATE_ORDER, "variables": {"p": next(products)}},
                    )
                ).json()
                if body.get("errors"):
                    raise RuntimeError(body["errors"][0]["message"])
                order_id: str = body["data"]["createOrder"]["id"]
                return order_id

            async def confirmed(order_id: str) -> None:
                await client.get_workflow_handle(f"order-{order_id}").result()

            result.max_rate = await _burst(order, confirmed)
            result.rate = result.max_rate / 2
            await _hold(result, order, confirmed, shop)
        result.audit = await _audit(database_url, client, psp_url)
    return result


async def _burst(
    order: Callable[[], Awaitable[str]], confirmed: Callable[[str], Awaitable[None]]
) -> float:
    """Orders confirmed per second with many clients at once: the most the system does."""
    done = 0
    deadline = time.monotonic() + BURST_SECONDS

    async def client_loop() -> None:
        nonlocal done
        while time.monotonic() < deadline:
            await confirmed(await order())
            done += 1

    started = time.monotonic()
    await asyncio.gather(*(client_loop() for _ in range(BURST_CONCURRENCY)))
    return done / (time.monotonic() - started)


async def _hold(
    result: Soak,
    order: Callable[[], Awaitable[str]],
    confirmed: Callable[[str], Awaitable[None]],
    shop: Processes,
) -> None:
    """Place orders at `result.rate` for `result.seconds`, each to its confirmation."""
    started = time.monotonic()
    pending: set[asyncio.Task[None]] = set()

    async def one() -> None:
        placed_at = time.monotonic()
        try:
            order_id = await order()
        except Exception:
            result.failures += 1
            return
        result.latencies.append((placed_at - started, (time.monotonic() - placed_at) * 1000))
        try:
            await confirmed(order_id)
        except Exception:
            result.failures += 1

    interval = 1 / result.rate
    warmed_up = False
    for n in itertools.count():
        due = started + n * interval
        now = time.monotonic()
        if now - started >= result.seconds:
            break
        if not warmed_up and now - started >= result.seconds * WARM_UP_FRACTION:
            result.memory_start = shop.memory()
            warmed_up = True
        await asyncio.sleep(max(0.0, due - now))
        task = asyncio.create_task(one())
        pending.add(task)
        task.add_done_callback(pending.discard)
    await asyncio.wait_for(asyncio.gather(*pending), timeout=120)
    result.memory_end = shop.memory()
    if not result.memory_start:
        result.memory_start = result.memory_end


async def _audit(database_url: str, client: Client, psp_url: str) -> AuditReport:
    engine = create_engine(database_url, pool_size=2)
    try:
        async with httpx.AsyncClient(base_url=psp_url) as psp:
            return await run_audit(
                engine,
                bootstrap.event_store(),
                temporal=client,
                ledger=lambda: provider_ledger(psp, timeout_seconds=5),
                stalled_after_seconds=300,
                max_lag_seconds=60,
            )
    finally:
        await engine.dispose()


def markdown(result: Soak) -> str:
    """The soak's report, minute by minute."""
    latencies = [ms for _, ms in result.latencies]
    lines = [
        f"# Soak: {result.seconds:.0f} s at {result.rate:.1f} orders/s "
        f"(half of the {result.max_rate:.1f} orders/s measured)",
        "",
        f"{len(latencies)} orders placed, {result.failures} failed.",
        "",
        "| minute | orders | createOrder p50 (ms) | p99 (ms) |",
        "|---|---|---|---|",
    ]
    by_minute: dict[int, list[float]] = {}
    for at, ms in result.latencies:
        by_minute.setdefault(int(at // 60), []).append(ms)
    for minute, samples in sorted(by_minute.items()):
        lines.append(
            f"| {minute + 1} | {len(samples)} | {statistics.median(samples):.1f} "
            f"| {percentile(samples, 0.99):.1f} |"
        )
    if latencies:
        lines.append(
            f"| all | {len(latencies)} | {statistics.median(latencies):.1f} "
            f"| {percentile(latencies, 0.99):.1f} |"
        )
    lines += ["", "| process | RSS after warm-up (MiB) | RSS at the end (MiB) | growth |"]
    lines.append("|---|---|---|---|")
    for name, start in result.memory_start.items():
        end = result.memory_end.get(name, start)
        growth = (end - start) / start if start else 0.0
        flag = "" if growth <= ALLOWED_GROWTH else " (over 10%)"
        lines.append(f"| {name} | {start / 1024:.0f} | {end / 1024:.0f} | {growth:+.1%}{flag} |")
    audit = result.audit
    lines += ["", "## shop audit", "", "```", audit.as_text() if audit else "not run", "```"]
    return "\n".join(lines) + "\n"


def healthy(result: Soak) -> bool:
    """No failed order, memory within bounds, and clean books."""
    grew = any(
        result.memory_end.get(name, start) > start * (1 + ALLOWED_GROWTH)
        for name, start in result.memory_start.items()
    )
    return result.failures == 0 and not grew and result.audit is not None and result.audit.ok


async def stocked_catalog(http: httpx.AsyncClient, *, products: int) -> list[str]:
    """A category of `products` products, each with a million units in stock."""

    async def gql(query: str, variables: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = (
            await http.post("/graphql", json={"query": query, "variables": variables})
        ).json()
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data

    category = (
        await gql(
            "mutation($n: String!) { createCategory(input: {name: $n}) { id } }",
            {"n": f"Soak {uuid.uuid4()}"},
        )
    )["createCategory"]["id"]
    ids = []
    for i in range(products):
        product = (
            await gql(
                "mutation($c: ID!, $n: String!) { createProduct(input: "
                "{name: $n, price: 1000, categoryId: $c}) { id } }",
                {"c": category, "n": f"Soak product {i}"},
            )
        )["createProduct"]["id"]
        await gql(
            "mutation($p: ID!) { addStock(input: {productId: $p, quantity: 1000000}) { id } }",
            {"p": product},
        )
        ids.append(product)
    return ids


def _spawn(command: str, env: dict[str, str], workdir: Path) -> subprocess.Popen[bytes]:
    """`shop COMMAND` as a child, its log (warnings and errors) in the work directory."""
    return subprocess.Popen(
        [sys.executable, "-m", "cli", command],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(workdir / f"{command}.log").open("wb"),
    )


async def _until_serving(url: str) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(600):
            try:
                if (await http.get(f"{url}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"the API at {url} did not start")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
