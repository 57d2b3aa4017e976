"""The byte-bounded map: what it holds never exceeds its budget, whatever is put in it."""

from __future__ import annotations

import random

import pytest

from api.guards.byte_budget import ByteBudget


def test_it_never_holds_more_than_its_budget():
    budget: ByteBudget[int, str] = ByteBudget(max_bytes=10_000, max_entry_bytes=3_000)
    chosen = random.Random(7)
    for key in range(5_000):
        size = chosen.randrange(0, 4_000)
        budget.put(key % 700, "x", size)
        assert budget.bytes <= 10_000
        assert budget.bytes == sum(budget._entries[k][1] for k in budget._entries)


def test_an_entry_over_the_entry_limit_is_not_kept_and_evicts_nothing():
    budget: ByteBudget[str, str] = ByteBudget(max_bytes=100, max_entry_bytes=40)
    assert budget.put("a", "small", 30)
    assert not budget.put("b", "large", 41)
    assert "b" not in budget
    assert budget.get("a") == "small"
    assert budget.bytes == 30


def test_the_least_recently_used_goes_first():
    budget: ByteBudget[str, int] = ByteBudget(max_bytes=30, max_entry_bytes=30)
    budget.put("a", 1, 10)
    budget.put("b", 2, 10)
    budget.put("c", 3, 10)
    assert budget.get("a") == 1  # now the most recent
    budget.put("d", 4, 10)
    assert "b" not in budget
    assert [budget.get(key) for key in "acd"] == [1, 3, 4]


def test_putting_a_key_again_replaces_its_size():
    budget: ByteBudget[str, str] = ByteBudget(max_bytes=100, max_entry_bytes=100)
    budget.put("a", "x", 60)
    budget.put("a", "y", 20)
    assert (budget.bytes, len(budget), budget.get("a")) == (20, 1, "y")
    budget.discard("a")
    assert (budget.bytes, len(budget)) == (0, 0)


def test_a_zero_budget_keeps_nothing():
    budget: ByteBudget[str, str] = ByteBudget(max_bytes=0, max_entry_bytes=10)
    assert not budget.put("a", "x", 1)
    assert budget.put("empty", "", 0)  # nothing costs nothing
    assert budget.bytes == 0


def test_negative_sizes_are_refused():
    with pytest.raises(ValueError):
        ByteBudget(max_bytes=-1, max_entry_bytes=1)
    with pytest.raises(ValueError):
        ByteBudget(max_bytes=1, max_entry_bytes=1).put("a", "x", -5)
