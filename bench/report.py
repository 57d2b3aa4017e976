"""bench/results/latest.md and latest.png."""

from __future__ import annotations

import platform
import statistics
from datetime import UTC, datetime
from pathlib import Path

from bench.harness import Result


def _num(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}"


def markdown(results: list[Result], *, quick: bool, machine: str) -> str:
    lines = [
        "# Benchmark results"
        + (" (quick mode: it checks they run, its timings mean nothing)" if quick else ""),
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine}. "
        "Ratio = our speed relative to the baseline measured in the same run "
        "(throughput: ours ÷ baseline; latency: baseline ÷ ours).",
        "",
        "| workload | unit | ours | baseline | ratio | target | ours min / median / max | peer |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        target = "" if r.target is None else f"≥ {r.target:g} " + ("✓" if r.meets_target else "✗")
        peer = ""
        if r.peer:
            peer = f"{r.peer_name}: {_num(statistics.median(r.peer))} (ours {r.peer_ratio:.2f}x)"
        spread = " / ".join(_num(v) for v in (min(r.ours), statistics.median(r.ours), max(r.ours)))
        lines.append(
            f"| {r.workload} | {r.unit} | {_num(statistics.median(r.ours))} | "
            f"{r.baseline_name}: {_num(statistics.median(r.baseline))} | {r.ratio:.2f} | {target} "
            f"| {spread} | {peer} |"
        )
    notes = [f"- **{r.workload}**: {r.notes}" for r in results if r.notes]
    if notes:
        lines += ["", "Notes:", *notes]
    return "\n".join(lines) + "\n"


def chart(results: list[Result], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r.workload for r in results]
    ratios = [r.ratio for r in results]
    figure, axes = plt.subplots(figsize=(10, 0.45 * len(results) + 1.5))
    colours = [
        "#5b7db1" if r.target is None else "#4c9a2a" if r.meets_target else "#c0392b"
        for r in results
    ]
    axes.barh(names, ratios, color=colours)
    for index, r in enumerate(results):
        if r.target is not None:
            axes.plot([r.target, r.target], [index - 0.4, index + 0.4], color="black", lw=1)
    axes.axvline(1.0, color="grey", lw=0.8, ls="--")
    axes.invert_yaxis()
    axes.set_xlabel(
        "speed relative to the baseline (1.0 = as fast). Black tick: target;"
        " green meets it, red misses it, blue has none"
    )
    axes.set_title("shop benchmarks")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def machine() -> str:
    import os

    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
