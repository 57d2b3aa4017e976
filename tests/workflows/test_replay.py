"""Recorded saga histories replay against the current workflow code.

A change to `OrderSaga` that would break running sagas fails here. Histories
of every era are kept: `order_saga_<outcome>.json` from before the
`LOCAL_DATABASE_STEPS` patch, `order_saga_<outcome>.local-steps.json` after
it. To record the current era's (after a deliberate, patched change), run
`RECORD_HISTORIES=1 ./test tests/workflows/test_replay.py` after naming the
new era in `ERA`.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from tests.workflows.reordered_saga import ReorderedSaga
from workflows.order_saga import LOCAL_DATABASE_STEPS, OrderSaga

HISTORIES = Path(__file__).resolve().parent.parent / "histories"
OUTCOMES = ("confirmed", "compensated", "cancelled")
ERA = "local-steps"
"""What the histories recorded now are named after: the latest patch of the saga."""
RECORDED = sorted(HISTORIES.glob("order_saga_*.json"))


async def recorded(paths: list[Path] = RECORDED) -> AsyncIterator[WorkflowHistory]:
    for path in paths:
        yield WorkflowHistory.from_json(path.stem, path.read_text())


def test_histories_of_every_era_are_kept():
    names = {path.name for path in RECORDED}
    for outcome in OUTCOMES:
        assert f"order_saga_{outcome}.json" in names, "from before LOCAL_DATABASE_STEPS"
        assert f"order_saga_{outcome}.{ERA}.json" in names


def test_sagas_before_the_patch_scheduled_activities_and_after_it_run_them_locally():
    for outcome in OUTCOMES:
        before = json.loads((HISTORIES / f"order_saga_{outcome}.json").read_text())
        after = json.loads((HISTORIES / f"order_saga_{outcome}.{ERA}.json").read_text())
        assert "reserve_stock" in _scheduled_activities(before)
        assert "reserve_stock" not in _scheduled_activities(after)
        assert _patches(before) == set()
        assert _patches(after) == {LOCAL_DATABASE_STEPS}


def _patches(history: dict[str, Any]) -> set[str]:
    """The ids of the patches whose markers the history records."""
    found = set()
    for event in history["events"]:
        marker = event.get("markerRecordedEventAttributes", {})
        if marker.get("markerName") == "core_patch":
            for payload in marker["details"]["patch-data"]["payloads"]:
                found.add(json.loads(base64.b64decode(payload["data"]))["id"])
    return found


def _scheduled_activities(history: dict[str, Any]) -> set[str]:
    return {
        event["activityTaskScheduledEventAttributes"]["activityType"]["name"]
        for event in history["events"]
        if "activityTaskScheduledEventAttributes" in event
    }


async def test_recorded_histories_replay_on_the_current_saga():
    replayer = Replayer(workflows=[OrderSaga], data_converter=pydantic_data_converter)
    results = await replayer.replay_workflows(recorded(), raise_on_replay_failure=False)
    failures = {run_id: str(error) for run_id, error in results.replay_failures.items()}
    assert failures == {}


async def test_a_reordered_saga_fails_to_replay():
    replayer = Replayer(workflows=[ReorderedSaga], data_converter=pydantic_data_converter)
    results = await replayer.replay_workflows(recorded(), raise_on_replay_failure=False)
    assert len(results.replay_failures) == len(RECORDED)
    assert all("nondetermin" in str(e).lower() for e in results.replay_failures.values())


@pytest.mark.skipif(not os.environ.get("RECORD_HISTORIES"), reason="set RECORD_HISTORIES=1")
async def test_record_histories(system, temporal_env, psp_url):
    from tests.saga.orders_client import faults, place, stocked_product, until, until_final

    product = await stocked_product(system.gql, stock=10)
    outcomes = {}
    confirmed = await place(system.gql, [(product["id"], 1)])
    outcomes["confirmed"] = confirmed["data"]["createOrder"]["id"]
    refused = await place(system.gql, [(product["id"], 11)])  # out of stock
    outcomes["compensated"] = refused["data"]["createOrder"]["id"]
    await faults(psp_url, latency_ms=500)
    try:
        cancelled = await place(system.gql, [(product["id"], 2)])
        order_id = cancelled["data"]["createOrder"]["id"]
        await until(
            system.gql, order_id, lambda o: o["sagaState"]["currentStep"] == "PROCESS_PAYMENT"
        )
        await system.gql.data(
            "mutation($id: ID!) { cancelOrder(id: $id) { id } }", {"id": order_id}
        )
        outcomes["cancelled"] = order_id
    finally:
        await faults(psp_url)
    HISTORIES.mkdir(exist_ok=True)
    for name, order_id in outcomes.items():
        await until_final(system.gql, order_id)
        handle = temporal_env.client.get_workflow_handle(f"order-{order_id}")
        history = await handle.fetch_history()
        (HISTORIES / f"order_saga_{name}.{ERA}.json").write_text(history.to_json())
