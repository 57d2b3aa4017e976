"""`shop`: the entry point of every process and of the operator commands."""

from __future__ import annotations

import argparse
import asyncio
import sys

from settings import Settings


def _api(settings: Settings) -> None:
    import uvicorn

    from api.app import create_app

    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,
        access_log=False,
    )


def _worker(settings: Settings) -> None:
    import worker

    asyncio.run(worker.main(settings))


def _projector(settings: Settings) -> None:
    from projector.service import main

    asyncio.run(main(settings))


def _psp(settings: Settings) -> None:
    import uvicorn

    from psp.simulator import create_simulator

    uvicorn.run(
        create_simulator(),
        host="127.0.0.1",
        port=settings.psp_port,
        log_config=None,
        access_log=False,
    )


def _migrate(settings: Settings) -> None:
    from database import migrate

    migrate(settings.require_database_url())
    print("database is up to date")


def _dev(settings: Settings) -> None:
    from devstack import run_dev

    run_dev(settings)


def _rebuild(settings: Settings, name: str) -> None:
    from projector.rebuild_command import rebuild_by_name

    asyncio.run(rebuild_by_name(settings, name))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="shop", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser(
        "dev", help="run the whole system locally: PostgreSQL, Temporal, worker, projector, API"
    )
    commands.add_parser("api", help="serve GraphQL on API_HOST:API_PORT")
    commands.add_parser("worker", help="run the Temporal worker")
    commands.add_parser("projector", help="run the asynchronous projections")
    commands.add_parser("psp", help="run the payment-provider simulator on PSP_PORT")
    commands.add_parser("migrate", help="bring the database schema up to date")
    rebuild = commands.add_parser(
        "rebuild", help="rebuild a projection from the whole log while it keeps serving"
    )
    rebuild.add_argument("projection", help="e.g. products, categories, price_history")
    args = parser.parse_args(argv)

    settings = Settings()
    from logs import configure_logging

    configure_logging(log_format=settings.log_format, level=settings.log_level)
    if args.command == "rebuild":
        _rebuild(settings, args.projection)
        return
    runners = {
        "dev": _dev,
        "api": _api,
        "worker": _worker,
        "projector": _projector,
        "psp": _psp,
        "migrate": _migrate,
    }
    runners[args.command](settings)


if __name__ == "__main__":
    main(sys.argv[1:])
