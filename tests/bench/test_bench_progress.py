"""`./bench/run` says what it is doing: live on a terminal, a line per repetition in a log."""

from __future__ import annotations

import io
import re

from bench import progress


def test_in_a_log_each_repetition_is_a_line():
    log = io.StringIO()
    with progress.showing(2, stream=log) as display:
        with display.group("append"):
            assert list(progress.repetitions("8 writers", 2)) == [0, 1]
        with display.group("read"):
            list(progress.repetitions("catch-up read", 1))
    assert log.getvalue().splitlines() == [
        "bench: append",
        "bench: append: 8 writers, repetition 1/2",
        "bench: append: 8 writers, repetition 2/2",
        "bench: read",
        "bench: read: catch-up read, repetition 1/1",
    ]


def test_on_a_terminal_the_workload_its_repetition_and_the_time_left_are_drawn(terminal):
    with progress.showing(3, stream=terminal.stream) as display:
        with display.group("append"):
            pass
        with display.group("saga"):
            next(progress.repetitions("50 orders", 3))
            drawn = terminal.read(until="repetition 1/3")
    assert "saga: 50 orders, repetition 1/3" in drawn
    # One of three groups done, the time taken, and the time left.
    assert re.search(r"1/3\s+\d+:\d\d:\d\d\s+left\s+(-:--:--|\d+:\d\d:\d\d)", drawn), drawn


def test_without_a_run_shown_repetitions_are_a_range():
    assert list(progress.repetitions("anything", 3)) == [0, 1, 2]
