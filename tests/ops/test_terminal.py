"""Tables and progress: fitted and live on a terminal, plain and quiet in a pipe."""

from __future__ import annotations

import io
import re

from ops.terminal import progress, render
from tests.pseudo_terminal import visible

ROWS = [("categories", "inline", "1-2"), ("order_timeline", "projector", "x" * 80)]


def test_in_a_pipe_a_table_is_plain_and_whole():
    pipe = io.StringIO()
    lines = render(("projection", "runs", "position"), ROWS, max_width=100, stream=pipe).split("\n")
    assert lines[0].split() == ["projection", "runs", "position"]
    assert set(lines[1].replace(" ", "")) == {"─"}
    assert lines[2].split() == ["categories", "inline", "1-2"]
    assert lines[3].split() == ["order_timeline", "projector", "x" * 80]
    assert "\x1b[" not in "\n".join(lines)  # no colour codes


def test_long_cells_are_cut_at_their_width():
    table = render(("projection", "runs", "position"), ROWS, stream=io.StringIO())
    assert table.splitlines()[3].split()[-1] == "x" * 59 + "…"


def test_on_a_terminal_a_table_fits_its_width(terminal, monkeypatch):
    monkeypatch.setenv("COLUMNS", "40")
    table = visible(render(("projection", "runs", "position"), ROWS, stream=terminal.stream))
    assert max(len(line) for line in table.splitlines()) <= 40
    assert "projection" in table and "order_tim" in table and "…" in table


def test_in_a_pipe_progress_draws_nothing():
    pipe = io.StringIO()
    with progress("rebuilding orders", total=10, stream=pipe) as show:
        for done in range(11):
            show(done)
    assert pipe.getvalue() == ""


def test_on_a_terminal_progress_shows_the_work_its_count_and_the_time_left(terminal):
    with progress("rebuilding", total=10, stream=terminal.stream) as show:
        show(4)
        drawn = terminal.read(until="4/10")
    assert "rebuilding" in drawn and "4/10" in drawn and "40%" in drawn
    assert re.search(r"\d+:\d\d:\d\d|-:--:--", drawn)  # the time left


def test_a_count_without_a_total_shows_how_many_so_far(terminal):
    with progress("events read", stream=terminal.stream) as show:
        show(12000)
        drawn = terminal.read(until="12000")
    assert "events read" in drawn and "12000" in drawn
