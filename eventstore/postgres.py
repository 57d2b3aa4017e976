"""The event store on PostgreSQL: the `EventStore` port's implementation.

Longer than our usual module: every statement on the store's tables is here,
and nowhere else, so its invariants (idempotent appends, gap-free reads) are
checked in one place.

Every method takes the caller's `AsyncConnection`, so an append and the inline
projections of its events commit or roll back together.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

import asyncpg
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.messages import DomainEvent
from eventstore.columns import Xid8
from eventstore.errors import RefusedData, WrongExpectedVersion
from eventstore.listener import NOTIFY_CHANNEL, notification_payload
from eventstore.records import (
    START,
    AppendResult,
    Backlog,
    EventMetadata,
    HorizonHolder,
    Position,
    PreviousOutcome,
    RecordedEvent,
    Snapshot,
)
from eventstore.registry import EventRegistry
from eventstore.schema import events, snapshots, stream_commands
from tenancy import read_whole_log

# One statement claims the command id, checks the stream's version and inserts
# every event; it inserts nothing when the command was seen before or the
# stream is not at the expected version, and the caller then tells which. It
# runs on the driver, prepared, like the hot reads below: SQLAlchemy's
# statement handling cost as much Python time as the rest of the append.
_APPEND = """
    WITH claim AS (
        INSERT INTO eventstore.stream_commands
            (tenant_id, stream_id, command_id, first_version, last_version)
        SELECT $1, $2, $3, $4::int + 1, $4::int + cardinality($7::uuid[])
        WHERE (SELECT coalesce(max(version), 0) FROM eventstore.events
               WHERE tenant_id = $1 AND stream_id = $2) = $4::int
        ON CONFLICT DO NOTHING
        RETURNING 1
    )
    INSERT INTO eventstore.events
        (tenant_id, stream_id, version, event_id, event_type, event_version, data, metadata,
         correlation_id)
    SELECT $1, $2, $4::int + e.ord, e.event_id, e.event_type, e.event_version, e.data::jsonb,
           $5::text::jsonb, $6
    FROM claim,
         unnest($7::uuid[], $8::text[], $9::smallint[], $10::text[])
             WITH ORDINALITY AS e(event_id, event_type, event_version, data, ord)
    RETURNING position, transaction_id, version, event_id::text, recorded_at
"""
_STREAM_VERSION_TAKEN = "events_stream_version_key"
"""The unique key a concurrent append to the same stream and version runs into."""

# The hot reads run on the driver itself, as prepared statements (asyncpg
# caches them per connection): SQLAlchemy's row handling cost more than the
# query. Payloads come back as JSON text, which pydantic parses and validates
# in one pass. `_decode` unpacks the columns in this order.
_COLUMNS = (
    "transaction_id, position, stream_id, version, event_id::text, event_type, event_version,"
    " data::text, metadata::text, recorded_at FROM eventstore.events"
)
_SETTLED = "transaction_id < pg_snapshot_xmin(pg_current_snapshot())"
"""Every transaction id below this has committed or aborted: nothing can still appear there."""
_LATER = "(transaction_id, position) > ($1::text::xid8, $2)"
_LOG_ORDER = " ORDER BY transaction_id, position"

_READ_STREAM = f"SELECT {_COLUMNS} WHERE stream_id = $1 AND version >= $2 ORDER BY version"
_READ_ANY = f"SELECT {_COLUMNS} WHERE {_LATER}{_LOG_ORDER} LIMIT $3"
# The page is taken first and the unsettled tail dropped after: with both
# conditions in one WHERE, the planner's estimate made it fetch and sort every
# later event for each page (a catch-up read grew with the square of the log).
# Dropping a tail is exact, since the page is in transaction id order.
_READ_SETTLED = f"SELECT * FROM ({_READ_ANY}) AS page WHERE {_SETTLED}{_LOG_ORDER}"
_READ_CORRELATED = f"SELECT {_COLUMNS} WHERE correlation_id = $1{_LOG_ORDER}"

_READ_SNAPSHOT = (
    "SELECT version, schema_version, state::text FROM eventstore.snapshots WHERE stream_id = $1"
)

_SETTLED_HORIZON = sa.func.pg_snapshot_xmin(sa.func.pg_current_snapshot())
"""`_SETTLED`, for the statements SQLAlchemy builds."""
_BEGIN = sa.select(sa.literal(1))


async def _driver(conn: AsyncConnection) -> asyncpg.Connection:
    """The asyncpg connection under `conn`, inside `conn`'s transaction.

    Through SQLAlchemy's public API only. Its asyncpg adapter sends BEGIN with
    the first statement it runs, so a transaction that has run none yet is
    begun with one here (engines that act for a tenant have run theirs, the
    tenant's `set_config`, by the time anything reads or appends).
    """
    raw = await conn.get_raw_connection()
    driver: asyncpg.Connection = raw.driver_connection
    if driver.is_in_transaction():
        if not conn.in_transaction():
            # SQLAlchemy's COMMIT would not end it: what is written here would be lost.
            raise RuntimeError("the connection is in a transaction SQLAlchemy does not track")
        return driver
    await conn.execute(_BEGIN)
    return driver


# Built once: every command runs it, and SQLAlchemy would otherwise work out
# the cache key of a freshly built join each time (measured: a third of its cost).
_PREVIOUS_OUTCOME = (
    sa.select(
        events.c.transaction_id,
        events.c.position,
        events.c.metadata["fingerprint"].astext.label("fingerprint"),
    )
    .join(
        stream_commands,
        sa.and_(
            events.c.stream_id == stream_commands.c.stream_id,
            events.c.version.between(
                stream_commands.c.first_version, stream_commands.c.last_version
            ),
        ),
    )
    .where(stream_commands.c.command_id == sa.bindparam("command_id"))
    .order_by(events.c.transaction_id.desc(), events.c.position.desc())
    .limit(1)
)


def _after(position: Position) -> sa.ColumnElement[bool]:
    """Events later than `position` in the global order (an index range scan)."""
    return sa.tuple_(events.c.transaction_id, events.c.position) > sa.tuple_(
        sa.cast(position.transaction_id, Xid8()), sa.literal(position.sequence)
    )


class PostgresEventStore:
    """The event store on PostgreSQL.

    Appends are optimistic (a unique key on `(stream_id, version)`) and
    idempotent per `(stream_id, command_id)`; the global order is read by
    `(transaction id, sequence)` below the oldest running transaction, which
    keeps it gap-free without serialising writers.
    """

    def __init__(self, registry: EventRegistry) -> None:
        self._registry = registry

    async def append(
        self,
        conn: AsyncConnection,
        stream_id: str,
        expected_version: int,
        new_events: Sequence[DomainEvent],
        metadata: EventMetadata,
    ) -> AppendResult:
        """Append events to a stream that is at `expected_version` (0: a new stream).

        Raises `WrongExpectedVersion` when the stream has moved on. Appending
        the same `metadata.command_id` to the same stream again writes nothing
        and returns the first append's result with `duplicate=True`. Does not
        notify followers: call `notify` after the transaction commits.
        """
        if not new_events:
            raise ValueError("append needs at least one event")
        encoded = [self._registry.encode(event) for event in new_events]
        driver = await _driver(conn)
        try:
            rows = await driver.fetch(
                _APPEND,
                metadata.tenant_id,
                stream_id,
                metadata.command_id,
                expected_version,
                metadata.model_dump_json(),
                metadata.correlation_id,
                [uuid.uuid4() for _ in new_events],
                [event_type for event_type, _, _ in encoded],
                [version for _, version, _ in encoded],
                [payload for _, _, payload in encoded],
            )
        except asyncpg.UniqueViolationError as error:
            if error.constraint_name == _STREAM_VERSION_TAKEN:
                raise WrongExpectedVersion(stream_id, expected_version) from error
            raise
        except asyncpg.DataError as error:
            raise RefusedData(stream_id, error.sqlstate) from None
        except ValueError:  # the driver's own DataError: a value it cannot encode
            raise RefusedData(stream_id, None) from None
        if rows:
            rows.sort(key=lambda row: row[2])
            recorded = tuple(
                RecordedEvent(
                    position=Position(transaction_id, sequence),
                    stream_id=stream_id,
                    version=version,
                    event_id=event_id,
                    event=event,
                    metadata=metadata,
                    recorded_at=recorded_at,
                )
                for (sequence, transaction_id, version, event_id, recorded_at), event in zip(
                    rows, new_events, strict=True
                )
            )
            return AppendResult(
                stream_id=stream_id,
                first_version=expected_version + 1,
                last_version=recorded[-1].version,
                position=recorded[-1].position,
                events=recorded,
            )
        previous = await self._previous_append(conn, stream_id, metadata.command_id)
        if previous is None:
            raise WrongExpectedVersion(stream_id, expected_version)
        return previous

    async def _previous_append(
        self, conn: AsyncConnection, stream_id: str, command_id: str
    ) -> AppendResult | None:
        query = (
            sa.select(
                stream_commands.c.first_version,
                stream_commands.c.last_version,
                events.c.transaction_id,
                events.c.position,
            )
            .join(
                events,
                sa.and_(
                    events.c.stream_id == stream_commands.c.stream_id,
                    events.c.version == stream_commands.c.last_version,
                ),
            )
            .where(stream_commands.c.stream_id == stream_id)
            .where(stream_commands.c.command_id == command_id)
        )
        row = (await conn.execute(query)).one_or_none()
        if row is None:
            return None
        return AppendResult(
            stream_id=stream_id,
            first_version=row.first_version,
            last_version=row.last_version,
            position=Position(row.transaction_id, row.position),
            duplicate=True,
        )

    async def read_stream(
        self, conn: AsyncConnection, stream_id: str, *, from_version: int = 1
    ) -> list[RecordedEvent]:
        """The events of one stream from `from_version` on, oldest first."""
        rows = await (await _driver(conn)).fetch(_READ_STREAM, stream_id, from_version)
        return self._decode(rows)

    async def read_snapshot(self, conn: AsyncConnection, stream_id: str) -> Snapshot | None:
        """The latest snapshot of a stream (of the transaction's tenant), if one was saved."""
        row = await (await _driver(conn)).fetchrow(_READ_SNAPSHOT, stream_id)
        if row is None:
            return None
        version, schema_version, state = row
        return Snapshot(stream_id, version, schema_version, state)

    async def save_snapshot(self, conn: AsyncConnection, snapshot: Snapshot) -> None:
        """Keep `snapshot` unless the stored one is newer and of the same schema version.

        Save it in the transaction that appended up to `snapshot.version`, so it
        never describes events that did not commit.
        """
        statement = insert(snapshots).values(
            stream_id=snapshot.stream_id,
            version=snapshot.version,
            schema_version=snapshot.schema_version,
            # Text cast by PostgreSQL: a JSONB parameter would store the text as a JSON string.
            state=sa.cast(sa.literal(snapshot.state, sa.Text), JSONB),
        )
        stored = snapshots.c
        await conn.execute(
            statement.on_conflict_do_update(
                index_elements=[stored.tenant_id, stored.stream_id],
                set_={
                    "version": statement.excluded.version,
                    "schema_version": statement.excluded.schema_version,
                    "state": statement.excluded.state,
                    "taken_at": sa.func.now(),
                },
                where=sa.or_(
                    stored.version < statement.excluded.version,
                    stored.schema_version != statement.excluded.schema_version,
                ),
            )
        )

    async def read_all(
        self,
        conn: AsyncConnection,
        *,
        after: Position = START,
        limit: int = 1000,
        settled_only: bool = True,
    ) -> list[RecordedEvent]:
        """Up to `limit` events of the global log after `after`, in log order.

        With `settled_only` (the default) it returns only events whose
        transaction is older than every running one, so a follower that
        resumes from the last position it saw never misses an event. Pass
        `settled_only=False` only while holding a lock that keeps writers of
        the events you care about out (a projection rebuild's last step).
        """
        await read_whole_log(conn)
        query = _READ_SETTLED if settled_only else _READ_ANY
        driver = await _driver(conn)
        return self._decode(
            await driver.fetch(query, str(after.transaction_id), after.sequence, limit)
        )

    async def last_position(self, conn: AsyncConnection) -> Position:
        """The position of the newest settled event (`START` when there is none)."""
        await read_whole_log(conn)
        query = (
            sa.select(events.c.transaction_id, events.c.position)
            .where(events.c.transaction_id < _SETTLED_HORIZON)
            .order_by(events.c.transaction_id.desc(), events.c.position.desc())
            .limit(1)
        )
        row = (await conn.execute(query)).one_or_none()
        return START if row is None else Position(row.transaction_id, row.position)

    async def read_correlated(
        self, conn: AsyncConnection, correlation_id: str
    ) -> list[RecordedEvent]:
        """Every event of one correlation (an order's saga), across streams, in log order."""
        rows = await (await _driver(conn)).fetch(_READ_CORRELATED, correlation_id)
        return self._decode(rows)

    async def previous_outcome(
        self, conn: AsyncConnection, command_id: str
    ) -> PreviousOutcome | None:
        """What an already-applied command left (its last event), or None if it never ran."""
        row = (await conn.execute(_PREVIOUS_OUTCOME, {"command_id": command_id})).one_or_none()
        if row is None:
            return None
        return PreviousOutcome(Position(row.transaction_id, row.position), row.fingerprint)

    async def backlog(
        self, conn: AsyncConnection, *, after: Position, limit: int = 10_000
    ) -> Backlog:
        """Settled events after `after` (counted up to `limit`) and when the first was recorded."""
        await read_whole_log(conn)
        pending = (
            sa.select(events.c.recorded_at)
            .where(_after(after))
            .where(events.c.transaction_id < _SETTLED_HORIZON)
            .order_by(events.c.transaction_id, events.c.position)
            .limit(limit)
            .subquery()
        )
        row = (
            await conn.execute(sa.select(sa.func.count(), sa.func.min(pending.c.recorded_at)))
        ).one()
        return Backlog(events=row[0], oldest=row[1])

    async def horizon_holder(self, conn: AsyncConnection) -> HorizonHolder | None:
        """The oldest open transaction that holds an id (it may yet append), if any.

        Read from pg_stat_activity, which shows a role its own sessions in full:
        our processes share one role, so they see each other.
        """
        row = (
            await conn.execute(
                sa.text(
                    "SELECT pid, coalesce(application_name, '') AS application, "
                    "extract(epoch FROM clock_timestamp() - xact_start) AS seconds "
                    "FROM pg_stat_activity "
                    "WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid() "
                    "ORDER BY age(backend_xid) DESC LIMIT 1"
                )
            )
        ).one_or_none()
        if row is None:
            return None
        return HorizonHolder(
            pid=row.pid, application=row.application, seconds=float(row.seconds or 0)
        )

    async def lock_streams(self, conn: AsyncConnection, stream_ids: Iterable[str]) -> None:
        """Queue behind other writers of these streams until the transaction ends.

        Streams are locked in sorted order, so two writers never wait for each other.
        """
        for stream_id in sorted(set(stream_ids)):
            await conn.execute(
                sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtextextended(stream_id, 0)))
            )

    async def notify(
        self,
        conn: AsyncConnection,
        position: Position,
        *,
        correlation_id: str | None = None,
        tenant: str | None = None,
    ) -> None:
        """Wake followers, the readers of `correlation_id` and what caches `tenant`'s
        reads. Call after the appending transaction has committed.

        Kept out of the append transaction on purpose: PostgreSQL serialises
        the commits of transactions that NOTIFY, which halves write throughput.
        """
        payload = notification_payload(position, correlation_id, tenant)
        await conn.execute(sa.select(sa.func.pg_notify(NOTIFY_CHANNEL, payload)))

    def _decode(self, rows: Iterable[asyncpg.Record]) -> list[RecordedEvent]:
        """Rows of `_COLUMNS` as recorded events (this runs for every event read)."""
        decode_event = self._registry.decode_json
        decode_metadata = EventMetadata.model_validate_json
        decoded = []
        for row in rows:
            txid, sequence, stream_id, version, event_id, kind, kind_version, data, meta, at = row
            decoded.append(
                RecordedEvent(
                    position=Position(txid, sequence),
                    stream_id=stream_id,
                    version=version,
                    event_id=event_id,
                    event=decode_event(kind, kind_version, data),
                    metadata=decode_metadata(meta),
                    recorded_at=at,
                )
            )
        return decoded
