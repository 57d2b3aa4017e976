"""Tables and progress for the terminal, drawn by Rich.

On a terminal: tables fit its width (long cells end in `…`), and progress is
live, with its rate, and the time left where the total is known. In a pipe or
a log: tables are plain text with every cell whole, and progress draws
nothing, so the output stays clean for `grep` and `jq`.
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
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

UNBOUNDED = 100_000
"""The width of a table printed into a pipe: no cell is cut for lack of room."""


def render(
    headers: Sequence[str],
    rows: Sequence[Sequence[object]],
    *,
    max_width: int = 60,
    stream: TextIO | None = None,
) -> str:
    """A table: a header, a rule under it, a row per line.

    On a terminal (`stream`, stdout by default), it fits the width, cells cut at
    `max_width`; elsewhere every cell is whole. Cells are text as it is: never
    read as Rich markup or emoji codes (a stored event may hold anything).
    """
    out = stream or sys.stdout
    on_terminal = out.isatty()
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    for header in headers:
        table.add_column(
            header,
            min_width=len(header),
            max_width=max_width if on_terminal else None,
            no_wrap=True,
            overflow="ellipsis",
        )
    for row in rows:
        table.add_row(*(Text(str(value)) for value in row))
    buffer = io.StringIO()
    Console(
        file=buffer,
        width=shutil.get_terminal_size().columns if on_terminal else UNBOUNDED,
        force_terminal=on_terminal,
        no_color=not on_terminal,
        markup=False,
        emoji=False,
        highlight=False,
    ).print(table)
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines()).strip("\n")


class RateColumn(ProgressColumn):
    """How many a second, once Rich has measured it."""

    def render(self, task: Task) -> Text:
        return Text("" if task.speed is None else f"{task.speed:,.0f}/s")


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
        columns += [TextColumn("{task.completed}"), RateColumn(), TimeElapsedColumn()]
    else:
        columns += [
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            RateColumn(),
            TimeRemainingColumn(),
        ]
    console = Console(file=out)
    # What the command prints meanwhile stays on its own stream (a report piped to a file).
    with Progress(
        *columns, console=console, transient=True, redirect_stdout=False, redirect_stderr=False
    ) as bar:
        task = bar.add_task(what, total=total)
        yield lambda done: bar.update(task, completed=done)
