"""Recorded saga histories replay against the current workflow code.

A change to `OrderSaga` that would break running sagas fails here. Histories
of every era are kept, named `order_saga_<outcome>[.<era>].json`: from before
any patch, after `LOCAL_DATABASE_STEPS` (`local-steps`), after `FRAUD_CHECK`
(`fraud-check`). To record a new era's (after a deliberate, patched change),
add it to `ERAS` and run `RECORD_HISTORIES=1 ./test tests/workflows/test_replay.py`.
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

from tests.workflows.reordered_saga import ReorderedSaga, UnguardedFraudCheckSaga
from workflows.order_saga import FRAUD_CHECK, LOCAL_DATABASE_STEPS, OrderSaga

HISTORIES = Path(__file__).resolve().parent.parent / "histories"
OUTCOMES = ("confirmed", "compensated", "cancelled")
ERAS: dict[str, frozenset[str]] = {
    "": frozenset(),
    "local-steps": frozenset({LOCAL_DATABASE_STEPS}),
    "fraud-check": frozenset({LOCAL_DATABASE_STEPS, FRAUD_CHECK}),
}
"""Each era's name (the part of a history's file name), with the patches its sagas took."""
ERA = list(ERAS)[-1]
"""What the histories recorded now are named after: the latest patch of the saga."""
RECORDED = sorted(HISTORIES.glob("order_saga_*.json"))


def history_file(outcome: str, era: str) -> Path:
    return HISTORIES / f"order_saga_{outcome}{'.' + era if era else ''}.json"


async def recorded(paths: list[Path] = RECORDED) -> AsyncIterator[WorkflowHistory]:
    for path in paths:
        yield WorkflowHistory.from_json(path.stem, path.read_text())


@pytest.mark.parametrize("era", list(ERAS))
def test_histories_of_every_era_are_kept_with_the_patches_of_their_era(era):
    for outcome in OUTCOMES:
        path = history_file(outcome, era)
        assert path in RECORDED
        # A saga records a patch's marker where it reaches the patched code.
        assert _patches(json.loads(path.read_text())) <= ERAS[era]
    assert _patches(json.loads(history_file("confirmed", era).read_text())) == ERAS[era]


def test_sagas_before_the_patch_scheduled_activities_and_after_it_run_them_locally():
    for outcome in OUTCOMES:
        before = json.loads(history_file(outcome, "").read_text())
        after = json.loads(history_file(outcome, "local-steps").read_text())
        assert "reserve_stock" in _scheduled_activities(before)
        assert "reserve_stock" not in _scheduled_activities(after)
        assert "reserve_stock" in _local_activities(after)


def test_only_sagas_after_the_fraud_check_patch_check_for_fraud():
    for era in ERAS:
        for outcome in ("confirmed", "cancelled"):  # both got past the stock
            history = json.loads(history_file(outcome, era).read_text())
            checked = "check_fraud" in _local_activities(history)
            assert checked is (FRAUD_CHECK in ERAS[era]), (era, outcome)
    held = json.loads(history_file("held", "fraud-check").read_text())
    assert "check_fraud" in _local_activities(held)
    assert "release_stock" in _scheduled_activities(held)
    assert "process_payment" not in _scheduled_activities(held)


def _patches(history: dict[str, Any]) -> set[str]:
    """The ids of the patches whose markers the history records."""
    found = set()
    for event in history["events"]:
        marker = event.get("markerRecordedEventAttributes", {})
        if marker.get("markerName") == "core_patch":
            for payload in marker["details"]["patch-data"]["payloads"]:
                found.add(json.loads(base64.b64decode(payload["data"]))["id"])
    return found


def _local_activities(history: dict[str, Any]) -> set[str]:
    found = set()
    for event in history["events"]:
        marker = event.get("markerRecordedEventAttributes", {})
        if marker.get("markerName") == "core_local_activity":
            data = marker["details"]["data"]["payloads"][0]["data"]
            found.add(json.loads(base64.b64decode(data))["activity_type"])
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


async def test_the_fraud_check_without_its_patch_would_break_the_sagas_from_before_it():
    earlier = [history_file("confirmed", era) for era in ERAS if FRAUD_CHECK not in ERAS[era]]
    replayer = Replayer(workflows=[UnguardedFraudCheckSaga], data_converter=pydantic_data_converter)
    results = await replayer.replay_workflows(recorded(earlier), raise_on_replay_failure=False)
    assert len(results.replay_failures) == len(earlier) == 2
    assert all("nondetermin" in str(e).lower() for e in results.replay_failures.values())


@pytest.mark.skipif(not os.environ.get("RECORD_HISTORIES"), reason="set RECORD_HISTORIES=1")
async def test_record_histories(system, temporal_env, psp_url):
    from tests.orders_client import faults, place, stocked_product, until, until_final

    product = await stocked_product(system.gql, stock=10)
    outcomes = {}
    confirmed = await place(system.gql, [(product["id"], 1)])
    outcomes["confirmed"] = confirmed["data"]["createOrder"]["id"]
    refused = await place(system.gql, [(product["id"], 11)])  # out of stock
    outcomes["compensated"] = refused["data"]["createOrder"]["id"]
    # A first order above the review amount, held by the fraud check.
    dear = await stocked_product(system.gql, price=system.settings.fraud_review_above, stock=2)
    held = await place(system.gql, [(dear["id"], 2)], user="a-new-customer")
    outcomes["held"] = held["data"]["createOrder"]["id"]
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
        history_file(name, ERA).write_text(history.to_json())
