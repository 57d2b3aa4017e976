"""The saga's view: one function turns a saga's progress into status, state and current step.

The workflow's query, the orders read model and the `Order` aggregate all read
it; these tests pin what each progress looks like from outside.
"""

from __future__ import annotations

from functools import reduce

import pytest

from domain.orders import (
    Order,
    OrderCancelled,
    OrderCompensationStarted,
    OrderConfirmed,
    OrderFailed,
    OrderFraudChecked,
    OrderPaymentProcessed,
    OrderPlaced,
    OrderShippingArranged,
    OrderStepCompensated,
    OrderStockReserved,
    saga_progress_after,
)
from domain.saga import (
    COMPENSATION_OF,
    FORWARD_STEPS,
    STEPS,
    Compensation,
    OrderState,
    OrderStatus,
    SagaProgress,
    SagaStatus,
    SagaStep,
    SagaView,
    saga_view,
)

RELEASE, REFUND, CANCEL = (
    Compensation.RELEASE_STOCK,
    Compensation.REFUND_PAYMENT,
    Compensation.CANCEL_SHIPMENT,
)


def after(*steps: SagaStep) -> SagaProgress:
    return reduce(SagaProgress.complete, steps, SagaProgress())


def test_a_new_saga_is_pending_and_about_to_reserve_stock():
    assert saga_view(SagaProgress()) == SagaView(
        status=OrderStatus.PENDING,
        state=OrderState.STARTED,
        saga_status=SagaStatus.RUNNING,
        current_step=SagaStep.RESERVE_STOCK,
        to_compensate=(),
    )


def test_each_completed_step_leads_to_the_next_and_the_last_completes_the_saga():
    current = [saga_view(after(*STEPS[:done])).current_step for done in range(len(STEPS) + 1)]
    assert current == [*STEPS, None]
    confirmed = saga_view(after(*STEPS))
    assert (confirmed.status, confirmed.state, confirmed.saga_status) == (
        OrderStatus.CONFIRMED,
        OrderState.CONFIRMED,
        SagaStatus.COMPLETED,
    )
    assert confirmed.finished


def test_the_fraud_check_moves_the_order_nowhere():
    reserved, checked = after(SagaStep.RESERVE_STOCK), after(*STEPS[:2])
    assert saga_view(checked).status is saga_view(reserved).status is OrderStatus.STOCK_RESERVED


@pytest.mark.parametrize(
    ("done", "in_doubt", "due"),
    [
        (0, False, ()),
        (0, True, (RELEASE,)),  # the reservation may have happened
        (1, False, (RELEASE,)),  # the fraud check refused
        (2, False, (RELEASE,)),  # the payment was declined
        (2, True, (REFUND, RELEASE)),  # the payment timed out: it may have been charged
        (3, True, (CANCEL, REFUND, RELEASE)),
        (4, True, (CANCEL, REFUND, RELEASE)),  # confirming is never undone
    ],
)
def test_the_compensations_due_undo_the_steps_done_last_first(done, in_doubt, due):
    progress = after(*STEPS[:done])
    assert progress.compensations_due(in_doubt=in_doubt) == due


def test_the_compensations_due_come_from_what_undoes_each_step():
    every = after(*FORWARD_STEPS[:-1]).compensations_due(in_doubt=False)
    assert set(every) == set(COMPENSATION_OF.values())


def test_compensating_reports_the_next_compensation_then_none_once_all_ran():
    progress = after(*STEPS[:3]).compensate((REFUND, RELEASE))
    views = [saga_view(progress), saga_view(progress.undo(REFUND))]
    views.append(saga_view(progress.undo(REFUND).undo(RELEASE)))
    assert [view.saga_status for view in views] == [SagaStatus.COMPENSATING] * 3
    assert [view.current_step for view in views] == [
        SagaStep.COMPENSATE_PROCESS_PAYMENT,
        SagaStep.COMPENSATE_RESERVE_STOCK,
        None,
    ]
    assert [view.to_compensate for view in views] == [(REFUND, RELEASE), (RELEASE,), ()]
    assert views[0].state is OrderState.PAYMENT_PROCESSED  # the last state reached stays


@pytest.mark.parametrize(
    ("outcome", "saga_status"),
    [(OrderState.CANCELLED, SagaStatus.COMPENSATED), (OrderState.FAILED, SagaStatus.FAILED)],
)
def test_a_closed_order_ends_the_saga(outcome, saga_status):
    view = saga_view(after(SagaStep.RESERVE_STOCK).compensate((RELEASE,)).close(outcome))
    assert (view.status, view.state, view.saga_status, view.current_step) == (
        OrderStatus(outcome.value),
        outcome,
        saga_status,
        None,
    )


def test_a_step_begun_out_of_turn_is_the_step_under_way():
    """A saga of an era without the fraud check goes from the stock to the payment."""
    progress = after(SagaStep.RESERVE_STOCK).begin(SagaStep.PROCESS_PAYMENT)
    assert saga_view(progress).current_step is SagaStep.PROCESS_PAYMENT
    assert progress.compensations_due(in_doubt=True) == (REFUND, RELEASE)


def test_the_aggregate_and_the_events_agree_with_the_saga_run_by_hand():
    placed = OrderPlaced(order_id="o", user_id="u", items=[], total_amount=0, currency="JPY")
    events = [
        placed,
        OrderStockReserved(order_id="o"),
        OrderFraudChecked(order_id="o", passed=True, reason="first order, small"),
        OrderPaymentProcessed(order_id="o", payment_id="p", amount=1),
        OrderShippingArranged(order_id="o", shipment_id="s"),
        OrderCompensationStarted(order_id="o", reason="r", compensations=[CANCEL, REFUND, RELEASE]),
        OrderStepCompensated(order_id="o", compensation=CANCEL),
        OrderStepCompensated(order_id="o", compensation=REFUND),
        OrderStepCompensated(order_id="o", compensation=RELEASE),
        OrderCancelled(order_id="o", reason="r"),
    ]
    by_events = reduce(saga_progress_after, events, SagaProgress())
    by_hand = after(*STEPS[:4]).compensate((CANCEL, REFUND, RELEASE))
    by_hand = by_hand.undo(CANCEL).undo(REFUND).undo(RELEASE).close(OrderState.CANCELLED)
    assert saga_view(by_events) == saga_view(by_hand)
    assert reduce(Order.evolve, events, Order.initial()).saga == by_events


def test_a_refused_fraud_check_moves_nothing_and_the_closing_events_end_the_saga():
    reserved = saga_progress_after(SagaProgress(), OrderStockReserved(order_id="o"))
    refused = OrderFraudChecked(order_id="o", passed=False, reason="held")
    assert saga_progress_after(reserved, refused) == reserved
    confirmed = saga_progress_after(after(*STEPS[:4]), OrderConfirmed(order_id="o"))
    assert saga_view(confirmed).saga_status is SagaStatus.COMPLETED
    failed = saga_progress_after(reserved, OrderFailed(order_id="o", reason="stuck"))
    assert saga_view(failed).saga_status is SagaStatus.FAILED


def test_a_compensation_whose_plan_was_never_recorded_still_compensates():
    """Recording the plan is bookkeeping that may fail for good; the compensations run anyway."""
    reserved = saga_progress_after(SagaProgress(), OrderStockReserved(order_id="o"))
    undone = saga_progress_after(reserved, OrderStepCompensated(order_id="o", compensation=RELEASE))
    view = saga_view(undone)
    assert (view.saga_status, view.current_step, view.to_compensate) == (
        SagaStatus.COMPENSATING,
        None,
        (),
    )
