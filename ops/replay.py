"""`shop replay WORKFLOW_ID | HISTORY.json`: replay a history against the current code."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.command import CommandWorkflow
from workflows.order_saga import OrderSaga


@dataclass(frozen=True)
class ReplayOutcome:
    workflow_id: str
    events: int
    failure: str | None

    def report(self) -> str:
        if self.failure is None:
            return f"{self.workflow_id}: {self.events} events replayed; the code is compatible"
        return f"{self.workflow_id}: NOT replay-compatible\n{self.failure}"


def load_workflow_class(spec: str) -> type:
    """`package.module:Class`, for replaying against a candidate version of a workflow."""
    module_name, _, name = spec.partition(":")
    workflow_class: type = getattr(importlib.import_module(module_name), name)
    return workflow_class


def history_from_file(path: Path) -> WorkflowHistory:
    """A history exported from the Temporal UI or CLI (`temporal workflow show --output json`)."""
    return WorkflowHistory.from_json(path.stem, path.read_text())


async def fetch_history(client: Client, workflow_id: str) -> WorkflowHistory:
    return await client.get_workflow_handle(workflow_id).fetch_history()


async def replay(history: WorkflowHistory, *, workflows: list[type] | None = None) -> ReplayOutcome:
    replayer = Replayer(
        workflows=workflows or [OrderSaga, CommandWorkflow],
        data_converter=pydantic_data_converter,
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    failure = None if result.replay_failure is None else str(result.replay_failure)
    return ReplayOutcome(
        workflow_id=history.workflow_id, events=len(history.events), failure=failure
    )
