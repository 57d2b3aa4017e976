"""Values the event store hands in and out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import total_ordering

from pydantic import BaseModel, ConfigDict, Field

from domain.messages import DomainEvent


@total_ordering
@dataclass(frozen=True, slots=True)
class Position:
    """A point in the global log: (writing transaction id, sequence number).

    Readers take events in this order, and only from transactions older than
    every transaction still running, so an event that commits late with a
    lower sequence number is never skipped. Clients see it as an opaque string.
    """

    transaction_id: int
    sequence: int

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Position):
            return NotImplemented
        return (self.transaction_id, self.sequence) < (other.transaction_id, other.sequence)

    def __str__(self) -> str:
        return f"{self.transaction_id}-{self.sequence}"

    @classmethod
    def parse(cls, text: str) -> Position:
        """Read a position from its string form; raises ValueError on anything else."""
        transaction_id, _, sequence = text.partition("-")
        position = cls(int(transaction_id), int(sequence))
        if position.transaction_id < 0 or position.sequence < 0:
            raise ValueError(f"not a position: {text!r}")
        return position


START = Position(0, 0)
"""Before the first event."""


class EventMetadata(BaseModel):
    """Why an event exists and who caused it; stored beside every event."""

    model_config = ConfigDict(frozen=True)

    command_id: str
    correlation_id: str
    causation_id: str
    actor: str = "anonymous"
    tenant_id: str = "default"
    trace: dict[str, str] = Field(default_factory=dict)
    fingerprint: str | None = None
    """A digest of the command's input, where a client chose its id (a `requestId`):
    the same id with another input is refused rather than answered with the first result."""


@dataclass(frozen=True, slots=True)
class PreviousOutcome:
    """What an already-applied command left: its last event's position, and its fingerprint."""

    position: Position
    fingerprint: str | None


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """A stored event, decoded into its current schema."""

    position: Position
    stream_id: str
    version: int
    event_id: str
    event: DomainEvent
    metadata: EventMetadata
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class Snapshot:
    """An aggregate's state as of `version` of its stream, as JSON text.

    A cache, never a source of truth (see `domain.snapshots`): `schema_version`
    is the state's, and a reader ignores snapshots of any version but its own.
    """

    stream_id: str
    version: int
    schema_version: int
    state: str


@dataclass(frozen=True, slots=True)
class Backlog:
    """What a reader at some position has still to read."""

    events: int
    oldest: datetime | None


@dataclass(frozen=True, slots=True)
class HorizonHolder:
    """The oldest open transaction that may still append: no follower reads past it."""

    pid: int
    application: str
    seconds: float
    """How long it has been open."""


@dataclass(frozen=True, slots=True)
class AppendResult:
    """Where an append left the stream and the log.

    `events` holds what this call wrote, for inline projections; it is empty
    and `duplicate` is true when the same command was appended before and
    this call wrote nothing.
    """

    stream_id: str
    first_version: int
    last_version: int
    position: Position
    events: tuple[RecordedEvent, ...] = ()
    duplicate: bool = False
