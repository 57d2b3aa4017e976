"""The fraud check before payment: a deterministic rule standing in for a risk service.

A real shop asks a risk service here. The rule is in the payment simulator's
spirit: plain enough that a test, a replay or an operator can tell what it will
say. An order above the review amount is held when its customer has never had
an order confirmed; everything else passes.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

HELD_FOR_REVIEW = "fraud check refused: the order is held for review"
"""What the customer is told (the saga's reason); the verdict's own reason says why."""


class FraudVerdict(BaseModel):
    model_config = ConfigDict(frozen=True)

    passed: bool
    reason: str
    """Why, in words an operator or a customer's support agent can repeat."""


def check_order(*, total_amount: int, confirmed_orders: int, review_above: int) -> FraudVerdict:
    """The verdict on an order of `total_amount` by a customer with `confirmed_orders`."""
    if total_amount <= review_above:
        return FraudVerdict(passed=True, reason=f"at or below the review amount ({review_above})")
    if confirmed_orders > 0:
        return FraudVerdict(passed=True, reason="a returning customer")
    return FraudVerdict(
        passed=False,
        reason=f"a first order above {review_above}, by a customer with none confirmed",
    )
