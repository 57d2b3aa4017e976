"""`shop rebuild NAME`: rebuild one projection with a progress line."""

from __future__ import annotations

import sys

from database import create_engine
from domain.registry import ALL_EVENTS
from eventstore import EventRegistry, Position, PostgresEventStore
from projector.rebuild import rebuild
from read_models import projection_named
from settings import Settings


async def rebuild_by_name(settings: Settings, name: str) -> None:
    try:
        projection = projection_named(name)
    except KeyError as error:
        raise SystemExit(str(error.args[0])) from None
    engine = create_engine(settings.require_database_url())

    def progress(applied: int, position: Position) -> None:
        print(f"\r{name}: {applied} events replayed, at {position}", end="", file=sys.stderr)

    try:
        await rebuild(
            engine, PostgresEventStore(EventRegistry(ALL_EVENTS)), projection, on_progress=progress
        )
    finally:
        await engine.dispose()
    print(file=sys.stderr)
