"""The log listener wakes the readers of a correlation id only, and survives a lost connection."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from eventstore.listener import LogListener
from eventstore.records import Position


async def notify(engine, store, correlation_id: str | None) -> None:
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await store.notify(conn, Position(1, 0), correlation_id=correlation_id)


async def woken(event: asyncio.Event) -> bool:
    try:
        await asyncio.wait_for(event.wait(), 2.0)
    except TimeoutError:
        return False
    return True


async def test_readers_of_one_correlation_id_sleep_through_the_others(engine, store):
    listener = LogListener(engine)
    await listener.start()
    try:
        async with (
            listener.subscription("order-a") as a,
            listener.subscription("order-b") as b,
            listener.subscription() as everything,
        ):
            await notify(engine, store, "order-a")
            assert await woken(a) and await woken(everything)
            assert not b.is_set()
            everything.clear()
            await notify(engine, store, None)  # an append of no order
            assert await woken(everything)
            assert not b.is_set()
    finally:
        await listener.stop()


async def test_a_lost_connection_is_replaced_and_wakes_every_reader(engine, store):
    listener = LogListener(engine)
    await listener.start()
    try:
        async with listener.subscription("order-c") as c:
            async with engine.connect() as conn:
                await conn.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()"
                    )
                )
            # Notifications sent while it was gone are lost: every reader looks again.
            assert await woken(c)
            c.clear()
            await notify(engine, store, "order-c")  # and it listens again
            assert await woken(c)
    finally:
        await listener.stop()
