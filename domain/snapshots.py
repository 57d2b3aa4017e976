"""Snapshot policies: which aggregates' states may be cached, and how they are written.

A snapshot is a cache of an aggregate's state as of one version of its
stream, so that loading it reads only the events after that version. It is
never a source of truth: the events are, and a snapshot that cannot be read
(an old schema, a state that no longer validates) is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel

S = TypeVar("S", bound=BaseModel)


@dataclass(frozen=True)
class SnapshotPolicy(Generic[S]):
    """How one aggregate's state is snapshotted.

    Bump `schema_version` whenever the state's shape or meaning changes:
    snapshots of other versions are then ignored, and replaced by the next
    command that writes the stream.
    """

    state_type: type[S]
    schema_version: int
    every: int = 100
    """Events appended after the last snapshot before the next is written."""

    def due(self, snapshot_version: int, stream_version: int) -> bool:
        """Whether a stream at `stream_version` should be snapshotted again."""
        return stream_version - snapshot_version >= self.every

    def dump(self, state: S) -> str:
        return state.model_dump_json()

    def load(self, text: str) -> S:
        return self.state_type.model_validate_json(text)
