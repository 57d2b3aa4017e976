"""CommandWorkflow's own behaviour, with a stubbed activity (the real one is covered
end to end by the API tests)."""

from __future__ import annotations

import uuid

from temporalio import activity
from temporalio.worker import Worker

from domain.catalog import CreateCategory
from workflows.command import CommandWorkflow
from workflows.contracts import (
    EXECUTE_COMMAND_ACTIVITY,
    CommandContext,
    CommandRequest,
    CommandResult,
)


def request() -> CommandRequest:
    command_id = str(uuid.uuid4())
    return CommandRequest(
        command=CreateCategory(category_id="c1", name="Books"),
        context=CommandContext(command_id=command_id, correlation_id=command_id),
        activity_timeout_seconds=5,
    )


async def test_transient_activity_faults_are_retried_with_backoff(temporal_env):
    attempts: list[int] = []

    @activity.defn(name=EXECUTE_COMMAND_ACTIVITY)
    async def flaky(req: CommandRequest) -> CommandResult:
        attempts.append(activity.info().attempt)
        if len(attempts) < 3:
            raise ConnectionError("database restarting")
        return CommandResult(position="1-1")

    queue = f"test-{uuid.uuid4()}"
    async with Worker(
        temporal_env.client, task_queue=queue, workflows=[CommandWorkflow], activities=[flaky]
    ):
        result = await temporal_env.client.execute_workflow(
            CommandWorkflow.run, request(), id=f"cmd-{uuid.uuid4()}", task_queue=queue
        )
    assert result == CommandResult(position="1-1")
    assert attempts == [1, 2, 3]


async def test_a_refusal_is_a_result_not_a_failed_workflow(temporal_env):
    from workflows.contracts import CommandFailure

    refusal = CommandFailure(code="CONFLICT", message="taken", field="name")

    @activity.defn(name=EXECUTE_COMMAND_ACTIVITY)
    async def refuse(req: CommandRequest) -> CommandResult:
        return CommandResult(failure=refusal)

    queue = f"test-{uuid.uuid4()}"
    async with Worker(
        temporal_env.client, task_queue=queue, workflows=[CommandWorkflow], activities=[refuse]
    ):
        handle = await temporal_env.client.start_workflow(
            CommandWorkflow.run, request(), id=f"cmd-{uuid.uuid4()}", task_queue=queue
        )
        assert (await handle.result()).failure == refusal
        description = await handle.describe()
    assert description.status is not None and description.status.name == "COMPLETED"
