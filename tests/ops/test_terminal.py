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


def test_cells_are_cut_at_their_width_on_a_terminal_only(terminal):
    on_terminal = visible(render(("projection", "runs", "position"), ROWS, stream=terminal.stream))
    assert on_terminal.splitlines()[3].split()[-1] == "x" * 59 + "…"
    in_a_pipe = render(("projection", "runs", "position"), ROWS, stream=io.StringIO())
    assert in_a_pipe.splitlines()[3].split()[-1] == "x" * 80


def test_a_cell_is_text_as_it_is_never_markup():
    hostile = ("[/]", "[red]x", ":smile:")
    table = render(("a", "b", "c"), [hostile], stream=io.StringIO())
    assert table.splitlines()[2].split() == list(hostile)


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
    assert re.search(r"40%\s+(\S+/s\s+)?(\d+:\d\d:\d\d|-:--:--)", drawn)  # the time left


def test_what_a_command_prints_meanwhile_stays_on_its_own_stream(terminal, capsys):
    with progress("replaying", stream=terminal.stream) as show:
        show(1)
        print("order-1: NOT replay-compatible")
    assert capsys.readouterr().out == "order-1: NOT replay-compatible\n"


def test_a_count_without_a_total_shows_how_many_so_far(terminal):
    with progress("events read", stream=terminal.stream) as show:
        show(12000)
        drawn = terminal.read(until="12000")
    assert "events read" in drawn and "12000" in drawn
