"""`CommandWorkflow`: runs one short command through its activity, durably."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from workflows.contracts import (
        COMMAND_WORKFLOW,
        EXECUTE_COMMAND_ACTIVITY,
        CommandRequest,
        CommandResult,
    )

# Transient faults (the database restarting, say) are retried with backoff;
# business refusals are not faults: the activity returns them as a result.
COMMAND_RETRY_POLICY = RetryPolicy(
    initial_interval=timedelta(milliseconds=100),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=5),
)


@workflow.defn(name=COMMAND_WORKFLOW)
class CommandWorkflow:
    """Executes a command as a local activity: one workflow task, so it is quick.

    A mutation waits for this workflow; the activity has already committed its
    events and the inline read models when it returns.
    """

    @workflow.run
    async def run(self, request: CommandRequest) -> CommandResult:
        timeout = timedelta(seconds=request.activity_timeout_seconds)
        result: CommandResult = await workflow.execute_local_activity(
            EXECUTE_COMMAND_ACTIVITY,
            request,
            result_type=CommandResult,
            start_to_close_timeout=timeout,
            schedule_to_close_timeout=timeout * 3,
            retry_policy=COMMAND_RETRY_POLICY,
        )
        return result
