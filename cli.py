"""`shop`: the entry point of every process and of the operator commands."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

from settings import Settings, package_version

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from eventstore import FollowedEventStore


def _api(settings: Settings) -> None:
    import uvicorn

    from bootstrap import api_app

    uvicorn.run(
        api_app(settings, internal_port=settings.api_metrics_port),
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,
        access_log=False,
    )


def _worker(settings: Settings) -> None:
    import worker

    asyncio.run(worker.main(settings))


def _projector(settings: Settings) -> None:
    import bootstrap
    from projector.service import run_projector

    async def run() -> None:
        engine = bootstrap.database_engine(settings)
        try:
            await run_projector(settings, engine, bootstrap.event_store())
        finally:
            await engine.dispose()

    asyncio.run(run())


def _psp(settings: Settings) -> None:
    import uvicorn

    from psp.simulator import create_simulator

    uvicorn.run(
        create_simulator(books=settings.psp_ledger_file),
        host=settings.psp_host,
        port=settings.psp_port,
        log_config=None,
        access_log=False,
    )


def _migrate(settings: Settings) -> None:
    from database import migrate

    migrate(settings.require_database_owner_url())
    print("database is up to date")


def _token(settings: Settings, args: argparse.Namespace) -> None:
    from devstack.issuer import ISSUER, dev_issuer

    if settings.auth_issuer not in (None, ISSUER):
        raise SystemExit(
            f"shop token signs for the dev issuer only; this API trusts {settings.auth_issuer}"
        )
    issuer = dev_issuer(settings.data_dir)
    print(
        issuer.token(subject=args.sub, roles=[args.role], tenant=args.tenant, ttl_seconds=args.ttl)
    )


def _schema(settings: Settings, args: argparse.Namespace) -> None:
    from api.graphql.schema import build_schema

    current = build_schema().as_str()
    if args.against is None:
        print(current)
        return
    from graphql import GraphQLError

    from api.graphql.schema_changes import compare, report

    try:
        changes = compare(Path(args.against).read_text(), current)
    except OSError as error:
        raise SystemExit(f"cannot read {args.against}: {error.strerror}") from None
    except (UnicodeDecodeError, GraphQLError, TypeError) as error:
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise SystemExit(f"{args.against} is not a GraphQL schema: {first_line}") from None
    for line in report(changes) or ["no change a client could notice"]:
        print(line)
    if changes.breaking:
        raise SystemExit(1)


def _dev(settings: Settings) -> None:
    from devstack.launcher import run_dev

    run_dev(settings)


def _with_store(
    settings: Settings, work: Callable[..., Awaitable[str | None]], *args: object
) -> None:
    """Run `work(engine, store, *args)` and print what it returns."""
    import bootstrap

    async def run() -> str | None:
        engine = bootstrap.owner_engine(settings)
        try:
            return await work(engine, bootstrap.event_store(), *args)
        finally:
            await engine.dispose()

    try:
        output = asyncio.run(run())
    except KeyboardInterrupt:
        return
    if output:
        print(output)


def _events(settings: Settings, args: argparse.Namespace) -> None:
    from ops import events

    if args.action == "show":

        async def show(engine: AsyncEngine, store: FollowedEventStore) -> str:
            return await events.show_stream(engine, store, args.stream, tenant=args.tenant)

        _with_store(settings, show)
    else:

        async def tail(engine: AsyncEngine, store: FollowedEventStore) -> None:
            await events.tail(
                engine,
                store,
                from_start=args.from_start,
                limit=args.limit,
                emit=lambda line: print(line, flush=True),
                tenant=args.tenant,
            )

        _with_store(settings, tail)


def _projections(settings: Settings, args: argparse.Namespace) -> None:
    from ops import projections

    if args.action == "status":
        _with_store(settings, projections.status)
        return
    if args.action == "parked":
        _with_store(settings, projections.list_parked)
        return
    from read_models import projection_named

    try:
        projection_named(args.name)
    except KeyError as error:
        raise SystemExit(str(error.args[0])) from None
    if args.action == "retry":
        _with_store(settings, projections.retry_parked, args.name)
    else:
        _with_store(settings, projections.rebuild_with_progress, args.name)


def _orders(settings: Settings, args: argparse.Namespace) -> None:
    from ops.orders import inspect

    async def run(engine: AsyncEngine, store: FollowedEventStore) -> str:
        return await inspect(engine, store, args.order_id)

    _with_store(settings, run)


def _replay(settings: Settings, args: argparse.Namespace) -> None:
    from ops import replay
    from ops.terminal import progress

    workflows = [replay.load_workflow_class(spec) for spec in args.workflow] or None
    if (args.source is None) == (args.running is None):
        print("shop replay: give a workflow id or a history file, or --running", file=sys.stderr)
        raise SystemExit(2)

    async def one(source: str) -> replay.ReplayOutcome:
        if Path(source).suffix == ".json":
            history = replay.history_from_file(Path(source))
        else:
            from bootstrap import temporal_client

            history = await replay.fetch_history(await temporal_client(settings), source)
        return await replay.replay(history, workflows=workflows)

    async def running(query: str) -> list[replay.ReplayOutcome]:
        from bootstrap import temporal_client

        histories = replay.running_histories(await temporal_client(settings), query)
        outcomes = []
        with progress("workflows replayed") as show:
            async for outcome in replay.replay_all(histories, workflows=workflows):
                if outcome.failure is not None:
                    print(outcome.report())
                outcomes.append(outcome)
                show(len(outcomes))
        return outcomes

    if args.source is not None:
        outcome = asyncio.run(one(args.source))
        print(outcome.report())
        failed = outcome.failure is not None
    else:
        outcomes = asyncio.run(running(args.running or replay.RUNNING_SAGAS))
        failures = sum(outcome.failure is not None for outcome in outcomes)
        where = f"at {settings.temporal_address} (namespace {settings.temporal_namespace})"
        print(
            f"{len(outcomes)} running workflows replayed {where}: "
            + (f"{failures} NOT replay-compatible" if failures else "the code is compatible")
        )
        failed = failures > 0
    if failed:
        raise SystemExit(1)


def _audit(settings: Settings, args: argparse.Namespace) -> None:
    import httpx

    import bootstrap
    from ops.audit import AuditReport, run_audit
    from ops.terminal import progress
    from psp.client import provider_ledger

    async def run(on_progress: Callable[[int], None] | None) -> AuditReport:
        engine = bootstrap.owner_engine(settings)
        temporal = None
        if settings.temporal_address is not None:
            try:
                temporal = await bootstrap.temporal_client(settings)
            except RuntimeError as error:  # not reachable: the report says what was skipped
                print(f"Temporal at {settings.temporal_address}: {error}", file=sys.stderr)
        try:
            async with httpx.AsyncClient(base_url=settings.psp_url) as psp:
                timeout = settings.psp_timeout_seconds
                return await run_audit(
                    engine,
                    bootstrap.event_store(),
                    temporal=temporal,
                    ledger=lambda: provider_ledger(psp, timeout_seconds=timeout),
                    stalled_after_seconds=_longest_step_seconds(settings),
                    max_lag_seconds=settings.projector_max_lag_seconds,
                    tenant=args.tenant,
                    on_progress=on_progress,
                )
        finally:
            await engine.dispose()

    shown = nullcontext(None) if args.json else progress("replaying the log: events read")
    with shown as show:
        report = asyncio.run(run(show))
    print(report.as_json() if args.json else report.as_text())
    if not report.ok:
        raise SystemExit(1)


def _longest_step_seconds(settings: Settings) -> float:
    """How long an order may go without a change before its saga counts as stalled:
    the longest deadline of any one step, and one attempt's timeout on top."""
    deadlines = (
        settings.saga_step_deadline_seconds,
        settings.payment_deadline_seconds,
        settings.compensation_deadline_seconds,
    )
    return max(deadlines) + settings.saga_step_seconds


OPERATOR_COMMANDS = {"events", "projections", "orders", "replay", "audit"}


def _beside_running_dev(settings: Settings) -> Settings:
    """Settings that fill in, from a `shop dev` running on DATA_DIR, the addresses
    the environment does not give."""
    from devstack.launcher import running_stack

    found = running_stack(settings.data_dir)
    missing = {
        key.lower(): value
        for key, value in found.items()
        if key.lower() not in settings.model_fields_set
    }
    return settings.model_copy(update=missing) if missing else settings


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="shop", description=__doc__)
    root.add_argument("--version", action="version", version=f"shop {package_version()}")
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser(
        "dev", help="run the whole system locally: PostgreSQL, Temporal, worker, projector, API"
    )
    commands.add_parser("api", help="serve GraphQL on API_HOST:API_PORT")
    commands.add_parser("worker", help="run the Temporal worker")
    commands.add_parser("projector", help="run the asynchronous projections")
    commands.add_parser("psp", help="run the payment-provider simulator on PSP_PORT")
    commands.add_parser("migrate", help="bring the database schema up to date")
    schema = commands.add_parser(
        "schema", help="print the GraphQL schema (SDL), as schema.graphql holds it"
    )
    schema.add_argument(
        "--against",
        metavar="FILE",
        help="instead, compare with this published schema: list what would break its clients "
        "and what is dangerous; exit 1 on a breaking change",
    )

    events = commands.add_parser("events", help="read the event store").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    show = events.add_parser("show", help="every event of one stream, with its metadata")
    show.add_argument("stream", help="e.g. order-<id>, product-<id>, stock-<id>")
    show.add_argument("--tenant", help="only this tenant's stream (default: every tenant's)")
    tail = events.add_parser("tail", help="follow the global log as it grows")
    tail.add_argument("--from-start", action="store_true", help="begin at the first event")
    tail.add_argument("--limit", type=int, help="stop after this many events")
    tail.add_argument("--tenant", help="only this tenant's events (default: every tenant's)")

    projections = commands.add_parser("projections", help="inspect and rebuild projections")
    actions = projections.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("status", help="position and lag of every projection")
    rebuild = actions.add_parser(
        "rebuild", help="rebuild a projection from the whole log while it keeps serving"
    )
    rebuild.add_argument("name", help="categories, products, orders, price_history, order_timeline")
    actions.add_parser("parked", help="events a projection could not apply, with their errors")
    retry = actions.add_parser(
        "retry", help="apply a projection's parked events again, in log order (after a fix)"
    )
    retry.add_argument("name", help="price_history or order_timeline")

    replay = commands.add_parser(
        "replay",
        help="replay workflow histories against this code: one, or every running saga "
        "(before deploying a build)",
    )
    replay.add_argument(
        "source", nargs="?", help="a workflow id (fetched from Temporal) or a history .json"
    )
    replay.add_argument(
        "--running",
        nargs="?",
        const="",
        metavar="QUERY",
        help="replay every workflow a visibility query finds instead; by default the running "
        "sagas (WorkflowType = 'OrderSaga' AND ExecutionStatus = 'Running')",
    )
    replay.add_argument(
        "--workflow",
        action="append",
        default=[],
        metavar="MODULE:CLASS",
        help="replay against this workflow class instead (e.g. a candidate change)",
    )

    audit = commands.add_parser(
        "audit",
        help="check the books: stock, money, orders, the log and the read models; "
        "exit 1 with a report when anything is off (read-only)",
    )
    audit.add_argument("--json", action="store_true", help="the report as JSON, for machines")
    audit.add_argument("--tenant", help="audit this tenant only")

    token = commands.add_parser(
        "token", help="print a token signed by the dev issuer (`shop dev` trusts it)"
    )
    token.add_argument("--sub", required=True, help="the user the token is for")
    token.add_argument("--role", required=True, choices=["customer", "admin"])
    token.add_argument("--tenant", help="the token's tenant (default: default)")
    token.add_argument("--ttl", type=int, default=3600, help="seconds until it expires")

    orders = commands.add_parser("orders", help="inspect orders").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    inspect = orders.add_parser("inspect", help="an order, its saga and its timeline")
    inspect.add_argument("order_id")
    return root


SERVERS = {"api": _api, "worker": _worker, "projector": _projector, "psp": _psp}
"""Long-running processes: what stops one goes to its log, traceback included, for
whoever debugs it. Every other command answers an operator in one line."""


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if args.command in SERVERS:
        settings = Settings()
        _configure(settings, args.command)
        SERVERS[args.command](settings)
        return
    commands: dict[str, Callable[[Settings, argparse.Namespace], None]] = {
        "dev": lambda settings, _: _dev(settings),
        "migrate": lambda settings, _: _migrate(settings),
        "events": _events,
        "projections": _projections,
        "orders": _orders,
        "replay": _replay,
        "audit": _audit,
        "token": _token,
        "schema": _schema,
    }
    try:
        settings = Settings()
        if args.command in OPERATOR_COMMANDS:
            settings = _beside_running_dev(settings)
        _configure(settings, args.command)
        commands[args.command](settings, args)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        print(f"shop {args.command}: interrupted", file=sys.stderr)
        raise SystemExit(130) from None
    except BrokenPipeError:
        # The reader went away (`shop events tail | head`): nothing more to say.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(0) from None
    except Exception as error:
        # An operator gets one line that says what is wrong, never a traceback.
        print(f"shop {args.command}: {_one_line(error)}", file=sys.stderr)
        raise SystemExit(2) from None


def _configure(settings: Settings, command: str) -> None:
    from observability.logs import configure_logging
    from observability.tracing import configure_tracing

    configure_logging(log_format=settings.log_format, level=settings.log_level)
    configure_tracing(
        f"{settings.service_name}-{command}", otlp_endpoint=settings.otel_exporter_otlp_endpoint
    )


def _one_line(error: BaseException) -> str:
    from pydantic import ValidationError

    if isinstance(error, ValidationError):  # a setting from the environment
        return "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']).upper() or 'a setting'}: "
            f"{problem['msg']}"
            for problem in error.errors()
        )
    if isinstance(error, FileNotFoundError):
        return f"no such file: {error.filename}"
    if isinstance(error, OSError) and error.filename is not None:
        return f"{error.filename}: {error.strerror}"
    if isinstance(error, OSError | ConnectionError):
        return f"cannot reach a server: {error} (is ./dev, or the database, running?)"
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    if isinstance(error, RuntimeError) and text:
        return text  # our own explanations (a setting that is missing, say)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


if __name__ == "__main__":
    main(sys.argv[1:])
