"""Plain-text tables and progress bars for the terminal."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TextIO


def render(headers: Sequence[str], rows: Sequence[Sequence[object]], *, max_width: int = 60) -> str:
    """Columns padded to their widest cell; cells longer than `max_width` are cut with `…`."""
    cells = [[_cut(str(value), max_width) for value in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    lines = [
        "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip(),
        "  ".join("-" * w for w in widths),
    ]
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    return "\n".join(lines)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def progress_bar(done: int, total: int, *, width: int = 30) -> str:
    filled = width if total == 0 else min(width, width * done // total)
    return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"


def progress_line(what: str, stream: TextIO | None = None) -> Callable[[int], None]:
    """A callback that keeps one line of a terminal up to date: `12000 events read`.

    Silent when the output is not a terminal, so logs and pipes stay clean.
    """
    out = stream or sys.stderr

    def show(done: int) -> None:
        if out.isatty():
            out.write(f"\r{done} {what}")
            out.flush()

    return show
