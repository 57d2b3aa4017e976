"""Tables and progress for the terminal, drawn by Rich.

On a terminal: tables fit its width (long cells end in `…`), and progress is
a live bar with its rate and time left. In a pipe or a log: tables are plain
text at their natural width, and progress draws nothing, so the output stays
clean for `grep` and `jq`.
"""

from __future__ import annotations

import io
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TextIO

from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

UNBOUNDED = 100_000
"""The width of a table printed into a pipe: no cell is cut for lack of room."""


def render(
    headers: Sequence[str],
    rows: Sequence[Sequence[object]],
    *,
    max_width: int = 60,
    stream: TextIO | None = None,
) -> str:
    """A table: a header, a rule under it, a row per line; cells cut at `max_width`.

    Fits the terminal when `stream` (stdout by default) is one.
    """
    out = stream or sys.stdout
    width = shutil.get_terminal_size().columns if out.isatty() else UNBOUNDED
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    for header in headers:
        table.add_column(
            header, min_width=len(header), max_width=max_width, no_wrap=True, overflow="ellipsis"
        )
    for row in rows:
        table.add_row(*(str(value) for value in row))
    buffer = io.StringIO()
    Console(file=buffer, width=width, force_terminal=out.isatty(), no_color=not out.isatty()).print(
        table
    )
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines()).strip("\n")


@contextmanager
def progress(
    what: str, *, total: int | None = None, stream: TextIO | None = None
) -> Iterator[Callable[[int], None]]:
    """A callback for how many of `total` are done (`total` None: a count, no bar).

    Draws on `stream` (stderr by default) only when it is a terminal.
    """
    out = stream or sys.stderr
    if not out.isatty():
        yield lambda done: None
        return
    columns: list[ProgressColumn] = [TextColumn("{task.description}")]
    if total is None:
        columns += [TextColumn("{task.completed}"), TimeElapsedColumn()]
    else:
        columns += [BarColumn(), MofNCompleteColumn(), TaskProgressColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=Console(file=out), transient=True) as bar:
        task = bar.add_task(what, total=total)
        yield lambda done: bar.update(task, completed=done)
