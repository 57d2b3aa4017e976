"""`shop projections status` and `shop projections rebuild NAME`."""

from __future__ import annotations

from collections import Counter

from sqlalchemy.ext.asyncio import AsyncEngine

from eventstore import START, FollowedEventStore
from observability.health import held_back
from ops.terminal import progress, render
from projector.parking import parked, retry
from projector.rebuild import rebuild
from read_models import PROJECTIONS, projection_named
from read_models.projection import projection_lag


async def status(engine: AsyncEngine, store: FollowedEventStore) -> str:
    rows: list[tuple[object, ...]] = []
    async with engine.connect() as conn:
        head = await store.last_position(conn)
        waiting = Counter(entry.projection for entry in await parked(conn))
        for projection in PROJECTIONS:
            name = projection.name
            if projection.inline:
                rows.append((name, "inline", head, 0, "0s", "-"))
                continue
            lag = await projection_lag(conn, store, name)
            rows.append(
                (name, "projector", lag.position, lag.events, f"{lag.seconds:.1f}s", waiting[name])
            )
        holder = await store.horizon_holder(conn)
    table = render(("projection", "runs", "position", "lag (events)", "lag (time)", "parked"), rows)
    if any(waiting.values()):
        table += (
            "\n\nparked events were set aside with their error: "
            "`shop projections parked` lists them, `shop projections retry NAME` applies them"
        )
    if holder is None or holder.seconds < 1:
        return table
    return f"{table}\n\nfollowers wait: {held_back(holder)}"


async def list_parked(engine: AsyncEngine, store: FollowedEventStore) -> str:
    async with engine.connect() as conn:
        entries = await parked(conn)
    if not entries:
        return "no parked events"
    return render(
        ("projection", "tenant", "position", "stream", "event", "attempts", "error"),
        [
            (e.projection, e.tenant_id, e.position, e.stream_id, e.event_type, e.attempts, e.error)
            for e in entries
        ],
        max_width=100,
    )


async def retry_parked(engine: AsyncEngine, store: FollowedEventStore, name: str) -> str:
    applied, still = await retry(engine, store, projection_named(name))
    return f"{name}: {applied} parked events applied, {still} still parked"


async def rebuild_with_progress(engine: AsyncEngine, store: FollowedEventStore, name: str) -> str:
    projection = projection_named(name)
    async with engine.connect() as conn:
        total = (await store.backlog(conn, after=START, limit=2**62)).events

    with progress(f"rebuilding {name}", total=total) as show:
        end = await rebuild(
            engine, store, projection, on_progress=lambda applied, _position: show(applied)
        )
    return f"{name} rebuilt from {total} events, up to position {end}"
