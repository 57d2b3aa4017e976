"""`shop projections status` and `shop projections rebuild NAME`."""

from __future__ import annotations

import sys

from sqlalchemy.ext.asyncio import AsyncEngine

from eventstore import START, EventStore, Position
from observability.health import held_back
from ops.terminal import progress_bar, render
from projector.rebuild import rebuild
from read_models import PROJECTIONS, projection_named
from read_models.projection import projection_lag


async def status(engine: AsyncEngine, store: EventStore) -> str:
    rows = []
    async with engine.connect() as conn:
        head = await store.last_position(conn)
        for projection in PROJECTIONS:
            if projection.inline:
                rows.append((projection.name, "inline", head, 0, "0s"))
                continue
            lag = await projection_lag(conn, store, projection.name)
            rows.append(
                (projection.name, "projector", lag.position, lag.events, f"{lag.seconds:.1f}s")
            )
        holder = await store.horizon_holder(conn)
    table = render(("projection", "runs", "position", "lag (events)", "lag (time)"), rows)
    if holder is None or holder.seconds < 1:
        return table
    return f"{table}\n\nfollowers wait: {held_back(holder)}"


async def rebuild_with_progress(engine: AsyncEngine, store: EventStore, name: str) -> str:
    projection = projection_named(name)
    async with engine.connect() as conn:
        total = (await store.backlog(conn, after=START, limit=2**62)).events

    def progress(applied: int, position: Position) -> None:
        print(f"\r{name} {progress_bar(applied, total)}", end="", file=sys.stderr, flush=True)

    end = await rebuild(engine, store, projection, on_progress=progress)
    print(file=sys.stderr)
    return f"{name} rebuilt from {total} events, up to position {end}"
