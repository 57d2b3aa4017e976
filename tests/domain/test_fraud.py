"""The fraud check: its rule, and the verdict the order stream keeps."""

from __future__ import annotations

from functools import reduce

import pytest

from domain.errors import Conflict
from domain.fraud import FraudVerdict, check_order
from domain.orders import (
    BeginCompensation,
    Order,
    OrderCompensationStarted,
    OrderFraudChecked,
    OrderItem,
    OrderPlaced,
    RecordFraudCheck,
)

PLACED = OrderPlaced(
    order_id="o1",
    user_id="u1",
    items=[OrderItem(product_id="p1", product_name="P", quantity=1, price=500)],
    total_amount=500,
    currency="JPY",
)
REFUSED = FraudVerdict(passed=False, reason="held for review")


def given(*events):
    return reduce(Order.evolve, events, Order.initial())


@pytest.mark.parametrize(
    ("total", "confirmed", "passed"),
    [
        (1_000, 0, True),  # at the review amount, a first order passes
        (1_001, 0, False),  # above it, a first order is held
        (1_001, 1, True),  # a returning customer's passes
        (5_000_000, 3, True),
    ],
)
def test_a_first_order_above_the_review_amount_is_held(total, confirmed, passed):
    verdict = check_order(total_amount=total, confirmed_orders=confirmed, review_above=1_000)
    assert verdict.passed is passed
    assert ("1000" in verdict.reason) is (confirmed == 0)


def test_the_verdict_is_recorded_once_and_a_repeat_changes_nothing():
    record = RecordFraudCheck(order_id="o1", verdict=REFUSED)
    events = Order.decide(given(PLACED), record)
    assert events == [OrderFraudChecked(order_id="o1", passed=False, reason="held for review")]
    checked = given(PLACED, *events)
    assert checked.fraud_check == REFUSED
    passing = FraudVerdict(passed=True, reason="a returning customer")
    assert Order.decide(checked, RecordFraudCheck(order_id="o1", verdict=passing)) == []


def test_no_verdict_is_recorded_once_the_order_is_being_cancelled():
    begun = OrderCompensationStarted(order_id="o1", reason="cancelled", compensations=[])
    with pytest.raises(Conflict):
        Order.decide(given(PLACED, begun), RecordFraudCheck(order_id="o1", verdict=REFUSED))
    assert (
        Order.decide(
            given(PLACED, begun), BeginCompensation(order_id="o1", reason="again", compensations=[])
        )
        == []
    )
