"""What a benchmark result is, and how its ratio is read."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


@dataclass
class Result:
    """One workload: our samples and the baseline's, one per repetition.

    The ratio is our speed relative to the baseline's: for throughputs
    ours ÷ baseline, for latencies baseline ÷ ours, so 1.0 means "as fast"
    and a target of 0.5 means "at least half as fast".
    """

    workload: str
    unit: str
    higher_is_better: bool
    ours: list[float]
    baseline: list[float]
    baseline_name: str
    target: float | None = None
    peer: list[float] = field(default_factory=list)
    peer_name: str = ""
    notes: str = ""

    @staticmethod
    def _ratio(ours: float, other: float, higher_is_better: bool) -> float:
        if higher_is_better:
            return ours / other if other else float("nan")
        return other / ours if ours else float("nan")

    @property
    def ratio(self) -> float:
        return self._ratio(
            statistics.median(self.ours), statistics.median(self.baseline), self.higher_is_better
        )

    @property
    def peer_ratio(self) -> float | None:
        if not self.peer:
            return None
        return self._ratio(
            statistics.median(self.ours), statistics.median(self.peer), self.higher_is_better
        )

    @property
    def meets_target(self) -> bool | None:
        return None if self.target is None else self.ratio >= self.target


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


async def per_second(
    total: int, concurrency: int, one: Callable[[int], Awaitable[object]]
) -> float:
    """Run `one(i)` for every i < total on `concurrency` tasks; calls per second."""
    counter = iter(range(total))

    async def worker() -> None:
        for i in counter:
            await one(i)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return total / (time.perf_counter() - started)
