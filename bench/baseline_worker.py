"""`python -m bench.baseline_worker ADDRESS TASK_QUEUE`: the baselines' workflows and
activity in a worker process of their own, until SIGTERM (for the process-per-role rows)."""

from __future__ import annotations

import asyncio
import signal
import sys

from temporalio.client import Client
from temporalio.worker import Worker

from bench.baseline_workflows import FourActivities, OneLocalActivity, noop


async def main(address: str, task_queue: str) -> None:
    client = await Client.connect(address)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[FourActivities, OneLocalActivity],
        activities=[noop],
    ):
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
