"""Following the log for one asynchronous projection, exactly once."""

from __future__ import annotations

import asyncio

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from eventstore import FollowedEventStore, Position, RecordedEvent
from eventstore.follower import follow
from observability.metrics import ProjectorMetrics
from projector.locks import hold_writes, try_lead
from projector.parking import apply_or_park, parkable
from read_models.projection import Projection, load_checkpoint, save_checkpoint

log = structlog.get_logger(__name__)


async def apply_batch(
    engine: AsyncEngine,
    projection: Projection,
    batch: list[RecordedEvent],
    *,
    metrics: ProjectorMetrics | None = None,
) -> Position:
    """Apply a batch and move the checkpoint in one transaction: each event counts once.

    The checkpoint is re-read under the write lock, so a batch that a rebuild
    (or a former leader) already covered is skipped rather than applied twice.
    When an event of the batch cannot be applied, the batch runs again event by
    event, each in a savepoint, and the ones that fail are parked (see
    `projector.parking`): the projection goes on without them.
    """
    try:
        return await _apply(engine, projection, batch, metrics, one_by_one=False)
    except Exception as error:
        if not parkable(error):
            raise
        return await _apply(engine, projection, batch, metrics, one_by_one=True)


async def _apply(
    engine: AsyncEngine,
    projection: Projection,
    batch: list[RecordedEvent],
    metrics: ProjectorMetrics | None,
    *,
    one_by_one: bool,
) -> Position:
    async with engine.begin() as conn:
        await hold_writes(conn, projection.name)
        checkpoint = await load_checkpoint(conn, projection.name)
        applied = 0
        for event in batch:
            if event.position > checkpoint and projection.handles(event):
                if not one_by_one:
                    await projection.apply_as_tenant(conn, event)
                elif not await apply_or_park(conn, projection, event):
                    continue
                applied += 1
        last = max(checkpoint, batch[-1].position)
        await save_checkpoint(conn, projection.name, last)
    if metrics is not None:
        metrics.applied.labels(projection.name).inc(applied)
    return last


class ProjectionRunner:
    """Runs one asynchronous projection while this instance holds its leader lock.

    Other instances wait as standbys and take over when the leader's
    connection goes away.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        store: FollowedEventStore,
        projection: Projection,
        *,
        batch_size: int,
        poll_seconds: float,
        metrics: ProjectorMetrics | None = None,
    ) -> None:
        self._engine = engine
        self._store = store
        self._projection = projection
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        self._metrics = metrics

    async def run(self) -> None:
        name = self._projection.name
        leader = await self._engine.connect()
        try:
            while not await try_lead(leader, name):
                await leader.commit()
                await asyncio.sleep(self._poll_seconds)
            await leader.commit()
            log.info("projection leading", projection=name)
            async with self._engine.connect() as conn:
                after = await load_checkpoint(conn, name)
            async for batch in follow(
                self._engine,
                self._store,
                after=after,
                batch_size=self._batch_size,
                max_wait_seconds=self._poll_seconds,
            ):
                after = await apply_batch(
                    self._engine, self._projection, batch, metrics=self._metrics
                )
        finally:
            # Closing the connection (rather than pooling it) releases the
            # session's leader lock, so a standby takes over at once.
            await leader.invalidate()
            await leader.close()
