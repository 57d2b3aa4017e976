"""How the worker process lays its workers over the configured task queues."""

from __future__ import annotations

from worker import _one_per_queue


class Saga:
    pass


def reserve() -> None: ...


def pay() -> None: ...


def test_contexts_configured_onto_one_queue_share_its_worker():
    # Two workers polling one queue with different activities would each
    # receive tasks the other registered, and fail them as unknown.
    laid_out = _one_per_queue(
        [
            ("orders", [Saga], [reserve]),
            ("inventory", [], [reserve]),
            ("orders", [], [pay, reserve]),
        ]
    )
    assert laid_out == [("orders", [Saga], [reserve, pay]), ("inventory", [], [reserve])]
