"""Events written by any earlier version of the code still load, and shapes change only by version.

The examples under `stored/` were recorded from real runs (`recording.py`);
they are decoded through today's registry and upcasters on every run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bootstrap import event_registry
from domain.registry import ALL_EVENTS
from eventstore import EventMetadata, UnknownEventType
from tests.events.recording import STORED, current_schema, example_path, schema_path

RECORD = (
    "record one from a real run: `RECORD_EVENTS=1 ./test TESTS`, with tests that store it (or "
    "`.venv/bin/python -m tests.events.recording DATABASE_URL` beside ./dev) and commit it"
)
EXAMPLES = sorted(STORED.glob("*.json"))
NO_REAL_RUN_REACHES = {
    "ShipmentCancelled": "only a confirmation that fails for good after shipping was arranged "
    "compensates a shipment, and no end-to-end test can make one fail yet",
}
"""Event types with no recorded example, each with the reason; the branch tests cover them."""
CURRENT = {event_class.event_type: event_class for event_class in ALL_EVENTS}


@pytest.mark.parametrize("path", EXAMPLES, ids=[path.stem for path in EXAMPLES])
def test_every_stored_example_loads_as_todays_event(path: Path):
    stored = json.loads(path.read_text())
    event = event_registry().decode(stored["event_type"], stored["event_version"], stored["data"])
    assert type(event) is CURRENT[stored["event_type"]]
    EventMetadata.model_validate(stored["metadata"])


@pytest.mark.parametrize("event_class", ALL_EVENTS, ids=lambda c: c.event_type)
def test_every_event_version_in_use_has_a_stored_example(event_class):
    path = example_path(event_class.event_type, event_class.event_version)
    if event_class.event_type in NO_REAL_RUN_REACHES:
        assert not path.exists(), f"{path.stem} is recorded now: drop it from NO_REAL_RUN_REACHES"
        pytest.skip(NO_REAL_RUN_REACHES[event_class.event_type])
    assert path.exists(), f"no stored example of {path.stem}: {RECORD}"


@pytest.mark.parametrize("event_class", ALL_EVENTS, ids=lambda c: c.event_type)
def test_an_events_shape_changes_only_with_its_version(event_class):
    name, version = event_class.event_type, event_class.event_version
    path = schema_path(name, version)
    assert path.exists(), (
        f"{name} version {version} has no recorded schema: "
        "`.venv/bin/python -m tests.events.recording --schemas` writes it"
    )
    assert current_schema(event_class) == json.loads(path.read_text()), (
        f"{name} changed shape but is still version {version}, so events stored before "
        f"would be read as if they had the new shape. Set `event_version = {version + 1}` "
        f"on {name}, add an upcaster from version {version} in domain/upcasters.py, run "
        "`.venv/bin/python -m tests.events.recording --schemas`, then record a stored example of "
        f"version {version + 1} ({RECORD}). Keep the version {version} example: it must "
        "load forever."
    )


def test_an_order_placed_before_currencies_were_recorded_loads_in_yen():
    stored = json.loads(example_path("OrderPlaced", 1).read_text())
    assert "currency" not in stored["data"]
    placed = event_registry().decode("OrderPlaced", 1, stored["data"])
    assert placed.model_dump() == {**stored["data"], "currency": "JPY"}


def test_an_event_stored_by_newer_code_is_refused_not_misread():
    stored = json.loads(example_path("OrderPlaced", 2).read_text())
    with pytest.raises(UnknownEventType, match="stored by newer code"):
        event_registry().decode("OrderPlaced", 3, stored["data"])
