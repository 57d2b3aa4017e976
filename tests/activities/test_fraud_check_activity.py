"""The fraud check activity on real PostgreSQL: a retry answers the verdict first recorded.

A local activity may run again after its transaction committed (the worker
died before its workflow task completed). The retry finds its command
recorded, so its handler does not run: it must answer what the first attempt
recorded, even when the rule would now say otherwise.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

import bootstrap
from activities.order_saga import SagaActivities
from domain.orders import OrderItem, PlaceOrder
from domain.saga import Refusal
from psp.client import ChargeMade
from read_models import INLINE_PROJECTIONS
from tests.orders_client import stored_events
from workflows.contracts import CommandContext
from workflows.saga_activities import PaymentInput, PlaceOrderInput


class NoProvider:
    """The fraud check never reaches the payment provider."""

    async def charge(self, *, key: str, amount: int, customer: str) -> ChargeMade:
        raise AssertionError("the fraud check charged")

    async def refund(self, *, key: str) -> bool:
        raise AssertionError("the fraud check refunded")


def activities(engine: Any, review_above: int) -> SagaActivities:
    return SagaActivities(
        engine,
        bootstrap.event_store(),
        INLINE_PROJECTIONS,
        NoProvider(),
        shipping_max_units=10,
        fraud_review_above=review_above,
        conflict_retries=3,
    )


def running_as(name: str) -> ActivityEnvironment:
    """An environment whose activity is `name`: its command id is derived from it."""
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, activity_type=name)
    return env


async def test_a_retried_fraud_check_answers_the_verdict_first_recorded(engine):
    order_id, customer = str(uuid.uuid4()), f"new-{uuid.uuid4().hex}"
    context = CommandContext(command_id=order_id, correlation_id=order_id)
    line = OrderItem(product_id="p-fraud", product_name="P", quantity=1, price=5_000)
    order = PlaceOrder(order_id=order_id, user_id=customer, items=[line])
    strict = activities(engine, review_above=1_000)
    await running_as("place_order").run(
        strict.place_order, PlaceOrderInput(order_id=order_id, context=context, order=order)
    )
    call = PaymentInput(order_id=order_id, context=context, amount=5_000, customer_id=customer)

    # The first attempt holds the order; the retry runs on a worker whose rule would pass
    # it (a new FRAUD_REVIEW_ABOVE), and holds it still.
    for worker in (strict, activities(engine, review_above=1_000_000)):
        with pytest.raises(ApplicationError) as held:
            await running_as("check_fraud").run(worker.check_fraud, call)
        assert held.value.type == Refusal.FRAUD_SUSPECTED
        assert held.value.non_retryable

    events = await stored_events(engine, f"order-{order_id}")
    assert [event_type for event_type, _ in events] == ["OrderPlaced", "OrderFraudChecked"]
    assert events[1][1]["passed"] is False
