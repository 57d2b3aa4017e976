"""Recorded saga histories replay against the current workflow code.

A change to `OrderSaga` that would break running sagas fails here. To record
new histories (after a deliberate, patched change), run
`RECORD_HISTORIES=1 ./test tests/workflows/test_replay.py`.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from tests.workflows.reordered_saga import ReorderedSaga
from workflows.order_saga import OrderSaga

HISTORIES = Path(__file__).resolve().parent.parent / "histories"
RECORDED = ("confirmed", "compensated", "cancelled")


async def recorded() -> AsyncIterator[WorkflowHistory]:
    for name in RECORDED:
        path = HISTORIES / f"order_saga_{name}.json"
        yield WorkflowHistory.from_json(f"order-{name}", path.read_text())


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
        (HISTORIES / f"order_saga_{name}.json").write_text(history.to_json())
