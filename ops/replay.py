"""`shop replay`: replay workflow histories against this checkout's code.

One history (a workflow id, or a file exported from the Temporal UI or CLI),
or, with `--running`, every workflow that is running now: run from a
candidate build's checkout before deploying it, that says whether the new
code can take over the sagas in flight (docs/changing-things-safely.md).
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
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
    text = path.read_text(errors="replace")
    try:
        return WorkflowHistory.from_json(path.stem, text)
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise RuntimeError(
            f"{path} is not a workflow history exported from Temporal ({first})"
        ) from None


async def fetch_history(client: Client, workflow_id: str) -> WorkflowHistory:
    return await client.get_workflow_handle(workflow_id).fetch_history()


RUNNING_SAGAS = "WorkflowType = 'OrderSaga' AND ExecutionStatus = 'Running'"
"""What `shop replay --running` replays unless given another visibility query."""


def running_histories(client: Client, query: str = RUNNING_SAGAS) -> AsyncIterator[WorkflowHistory]:
    """The histories of the workflows `query` finds, fetched one at a time."""
    return client.list_workflows(query).map_histories()


async def replay(history: WorkflowHistory, *, workflows: list[type] | None = None) -> ReplayOutcome:
    return await _replay_one(_replayer(workflows), history)


async def replay_all(
    histories: AsyncIterator[WorkflowHistory], *, workflows: list[type] | None = None
) -> AsyncIterator[ReplayOutcome]:
    """Each history's outcome, as it is replayed."""
    replayer = _replayer(workflows)
    async for history in histories:
        yield await _replay_one(replayer, history)


def _replayer(workflows: list[type] | None) -> Replayer:
    return Replayer(
        workflows=workflows or [OrderSaga, CommandWorkflow],
        data_converter=pydantic_data_converter,
    )


async def _replay_one(replayer: Replayer, history: WorkflowHistory) -> ReplayOutcome:
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    failure = None if result.replay_failure is None else str(result.replay_failure)
    return ReplayOutcome(
        workflow_id=history.workflow_id, events=len(history.events), failure=failure
    )
