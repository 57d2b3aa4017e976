"""Random command sequences against each aggregate: its invariants hold after every step.

Hypothesis drives the commands (valid, refused, repeated, out of order) into
`decide` and folds the events with `evolve`, as the event store would; a
refusal (a `DomainError`) leaves the state as it was. When an invariant breaks,
Hypothesis shrinks the sequence to the shortest one that breaks it.
"""

from __future__ import annotations

from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from domain.catalog import CategoryName, ClaimName, ReleaseName
from domain.errors import DomainError
from domain.inventory import AddStock, ReleaseStock, ReserveStock, StockItem, StockReleased
from domain.orders import (
    BeginCompensation,
    CloseOrder,
    Order,
    OrderItem,
    OrderProgress,
    PlaceOrder,
    RecordCompensation,
    RecordPayment,
    RecordShipment,
    RecordStep,
)
from domain.saga import FORWARD_STEPS, REACHES, Compensation, OrderState, SagaStep

ORDERS = st.sampled_from(["o1", "o2", "o3", "o4"])
RUNS = settings(max_examples=150, stateful_step_count=40, deadline=None)


def apply(aggregate: Any, state: Any, command: Any) -> tuple[Any, list[Any]]:
    """The new state and the events, or the old state and none when refused."""
    try:
        events = aggregate.decide(state, command)
    except DomainError:
        return state, []
    for event in events:
        state = aggregate.evolve(state, event)
    return state, events


class StockMachine(RuleBasedStateMachine):
    """Stock never goes negative, and what is on hand is what was added minus what is held."""

    def __init__(self) -> None:
        super().__init__()
        self.state = StockItem.initial()
        self.added = 0

    @rule(quantity=st.integers(1, 1_000))
    def add(self, quantity: int) -> None:
        self.state, events = apply(
            StockItem, self.state, AddStock(product_id="p", quantity=quantity)
        )
        self.added += sum(e.quantity for e in events)

    @rule(order=ORDERS, quantity=st.integers(1, 1_500))
    def reserve(self, order: str, quantity: int) -> None:
        command = ReserveStock(product_id="p", order_id=order, quantity=quantity)
        self.state, _ = apply(StockItem, self.state, command)

    @rule(order=ORDERS)
    def release(self, order: str) -> None:
        held = self.state.reservations.get(order)
        self.state, events = apply(
            StockItem, self.state, ReleaseStock(product_id="p", order_id=order)
        )
        # A release gives back exactly what was held, once.
        assert [e.quantity for e in events if isinstance(e, StockReleased)] == (
            [] if held is None else [held]
        )

    @invariant()
    def on_hand_is_added_minus_held(self) -> None:
        assert self.state.on_hand >= 0
        assert self.state.on_hand == self.added - sum(self.state.reservations.values())


class OrderMachine(RuleBasedStateMachine):
    """An order moves forward only, is compensated at most once per step, and ends once."""

    def __init__(self) -> None:
        super().__init__()
        self.state: OrderProgress = Order.initial()
        self.history: list[OrderState] = []
        self.ended: OrderState | None = None

    def _apply(self, command: Any) -> None:
        self.state, _ = apply(Order, self.state, command)
        self.history.append(self.state.state)
        if self.state.finished and self.ended is None:
            self.ended = self.state.state

    @rule()
    def place(self) -> None:
        item = OrderItem(product_id="p", product_name="Pen", quantity=1, price=100)
        self._apply(PlaceOrder(order_id="o", user_id="u", items=[item]))

    @rule(step=st.sampled_from(FORWARD_STEPS))
    def record(self, step: Any) -> None:
        match step:
            case SagaStep.PROCESS_PAYMENT:
                self._apply(RecordPayment(order_id="o", payment_id="c", amount=100))
            case SagaStep.ARRANGE_SHIPPING:
                self._apply(RecordShipment(order_id="o", shipment_id="s"))
            case _:
                self._apply(RecordStep(order_id="o", step=step))

    @rule(compensations=st.lists(st.sampled_from(list(Compensation)), unique=True))
    def begin_compensation(self, compensations: list[Compensation]) -> None:
        self._apply(BeginCompensation(order_id="o", reason="r", compensations=compensations))

    @rule(compensation=st.sampled_from(list(Compensation)))
    def compensate(self, compensation: Compensation) -> None:
        self._apply(RecordCompensation(order_id="o", compensation=compensation))

    @rule(outcome=st.sampled_from([OrderState.CANCELLED, OrderState.FAILED]))
    def close(self, outcome: OrderState) -> None:
        self._apply(CloseOrder(order_id="o", outcome=outcome, reason="r"))

    @invariant()
    def forward_only_and_one_end(self) -> None:
        reached = [REACHES[step] for step in FORWARD_STEPS]
        forward = [s for s in self.history if s in reached]
        assert forward == sorted(forward, key=reached.index)
        assert len(set(self.state.compensated)) == len(self.state.compensated)
        if self.ended is not None:
            # Once final, always that final state: a confirmed order is never cancelled.
            assert self.state.state is self.ended
        if self.state.compensating and not self.state.finished:
            assert self.state.state is not OrderState.CONFIRMED


class CategoryNameMachine(RuleBasedStateMachine):
    """A name has at most one holder, and only the holder can give it back."""

    def __init__(self) -> None:
        super().__init__()
        self.state = CategoryName.initial()

    @rule(category=st.sampled_from(["c1", "c2", "c3"]))
    def claim(self, category: str) -> None:
        before = self.state.holder
        self.state, _ = apply(
            CategoryName, self.state, ClaimName(name="lamps", category_id=category)
        )
        assert self.state.holder == (category if before is None else before)

    @rule(category=st.sampled_from(["c1", "c2", "c3"]))
    def release(self, category: str) -> None:
        before = self.state.holder
        self.state, _ = apply(
            CategoryName, self.state, ReleaseName(name="lamps", category_id=category)
        )
        assert self.state.holder == (None if before == category else before)


# Each machine runs through a factory function rather than its class: Hypothesis
# reads the source of what it runs, and for a class that means ast.parse of this
# module, which CPython 3.11 (before 3.11.8) can refuse from a deep stack with
# "AST constructor recursion depth mismatch". A function's source needs no parse.


def stock_machine() -> StockMachine:
    return StockMachine()


def order_machine() -> OrderMachine:
    return OrderMachine()


def category_name_machine() -> CategoryNameMachine:
    return CategoryNameMachine()


def test_stock_never_goes_negative_and_adds_up() -> None:
    run_state_machine_as_test(stock_machine, settings=RUNS)


def test_an_order_moves_forward_only_and_ends_once() -> None:
    run_state_machine_as_test(order_machine, settings=RUNS)


def test_a_category_name_has_one_holder() -> None:
    run_state_machine_as_test(category_name_machine, settings=RUNS)
