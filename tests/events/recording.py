"""Stored examples of every event type and version, and the schema each version had.

Examples are recorded from real runs, never typed: a test run with
`RECORD_EVENTS=1` (or `python -m tests.events.recording DATABASE_URL` beside a
running `./dev`) writes, for each type and version in the log that has no
example yet, the newest stored row as PostgreSQL holds it. Existing examples
are never rewritten: they are what old code wrote, and must load forever.

Schemas are written the same way, once per version, from the current classes:
`python -m tests.events.recording --schemas`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from database import create_engine
from domain.messages import DomainEvent
from domain.registry import ALL_EVENTS

HERE = Path(__file__).resolve().parent
STORED = HERE / "stored"
SCHEMAS = HERE / "schemas"

_NEWEST_OF_EACH = sa.text(
    "SELECT DISTINCT ON (event_type, event_version) event_type, event_version, data::text,"
    " metadata::text FROM eventstore.events"
    " ORDER BY event_type, event_version, position DESC"
)


def example_path(event_type: str, version: int) -> Path:
    return STORED / f"{event_type}.v{version}.json"


def schema_path(event_type: str, version: int) -> Path:
    return SCHEMAS / f"{event_type}.v{version}.json"


def current_schema(event_class: type[DomainEvent]) -> dict[str, Any]:
    return event_class.model_json_schema()


def _write(path: Path, content: dict[str, Any]) -> None:
    path.write_text(json.dumps(content, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


async def record_examples(database_url: str) -> list[Path]:
    """Write an example of each stored (type, version) that has none; returns the new files."""
    known = {event_class.event_type for event_class in ALL_EVENTS}
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(_NEWEST_OF_EACH)).all()
    finally:
        await engine.dispose()
    written = []
    for event_type, version, data, metadata in rows:
        path = example_path(event_type, version)
        if event_type not in known or path.exists():
            continue
        _write(
            path,
            {
                "event_type": event_type,
                "event_version": version,
                "data": json.loads(data),
                "metadata": json.loads(metadata),
            },
        )
        written.append(path)
    return written


def record_schemas() -> list[Path]:
    """Write the schema of each current event version that has none; returns the new files."""
    written = []
    for event_class in ALL_EVENTS:
        path = schema_path(event_class.event_type, event_class.event_version)
        if not path.exists():
            _write(path, current_schema(event_class))
            written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.events.recording", description=__doc__)
    parser.add_argument("database_url", nargs="?", help="record examples from this database")
    parser.add_argument("--schemas", action="store_true", help="record the current schemas")
    args = parser.parse_args()
    if not args.database_url and not args.schemas:
        parser.error("name a database to record examples from, or --schemas")
    written = record_schemas() if args.schemas else []
    if args.database_url:
        written += asyncio.run(record_examples(args.database_url))
    for path in written:
        print(path.relative_to(HERE.parent.parent))
    if not written:
        print("nothing new to record")


if __name__ == "__main__":
    main()
