"""The baselines' workflows, kept light because the workflow sandbox re-imports this module."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow


@activity.defn(name="bench_noop")
async def noop() -> None:
    return None


@workflow.defn(name="BenchFourActivities")
class FourActivities:
    """The baseline saga: four no-op activities, one after another."""

    @workflow.run
    async def run(self) -> None:
        for _ in range(4):
            await workflow.execute_activity(
                "bench_noop", start_to_close_timeout=timedelta(seconds=10)
            )


@workflow.defn(name="BenchOneLocalActivity")
class OneLocalActivity:
    """The baseline command: a workflow with one no-op local activity."""

    @workflow.run
    async def run(self) -> None:
        await workflow.execute_local_activity(
            "bench_noop", start_to_close_timeout=timedelta(seconds=10)
        )
