"""What `./bench/run` is doing: the group, the workload, its repetition, the time left.

On a terminal, Rich draws one live line on stderr; the time left is Rich's
estimate from the groups done so far. In a log (CI), each repetition is one
plain line, so a slow or stuck run says where it is.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class Display:
    """The run's progress: one step per benchmark group."""

    def __init__(self, groups: int, stream: TextIO) -> None:
        self._stream = stream
        self._group = ""
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        if stream.isatty():
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("left"),
                TimeRemainingColumn(),
                console=Console(file=stream),
                transient=True,
            )
            self._task = self._progress.add_task("starting", total=groups)

    def start(self) -> None:
        if self._progress is not None:
            self._progress.start()

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()

    @contextmanager
    def group(self, name: str) -> Iterator[None]:
        self._group = name
        self.show(name)
        yield
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task)

    def show(self, what: str) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, description=what)
        else:
            print(f"bench: {what}", file=self._stream, flush=True)

    def repetition(self, workload: str, number: int, of: int) -> None:
        self.show(f"{self._group}: {workload}, repetition {number}/{of}")


_display: Display | None = None


@contextmanager
def showing(groups: int, stream: TextIO | None = None) -> Iterator[Display]:
    """Progress for a run of `groups` groups, until the block ends."""
    global _display
    display = Display(groups, stream or sys.stderr)
    _display = display
    display.start()
    try:
        yield display
    finally:
        display.stop()
        _display = None


def repetitions(workload: str, repeat: int) -> Iterator[int]:
    """`range(repeat)`, saying which repetition of `workload` runs (when a run is shown)."""
    for number in range(repeat):
        if _display is not None:
            _display.repetition(workload, number + 1, repeat)
        yield number
