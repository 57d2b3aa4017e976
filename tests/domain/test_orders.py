"""Orders, payments, shipping and stock reservations: the saga's rules, without I/O."""

from __future__ import annotations

from functools import reduce

import pytest
from pydantic import ValidationError

from domain.errors import Conflict, NotFound
from domain.inventory import (
    OutOfStock,
    ReleaseStock,
    ReserveStock,
    StockAdded,
    StockItem,
    StockReleased,
    StockReserved,
)
from domain.orders import (
    BeginCompensation,
    CloseOrder,
    Compensation,
    Order,
    OrderCancelled,
    OrderCompensationStarted,
    OrderConfirmed,
    OrderFailed,
    OrderItem,
    OrderPaymentProcessed,
    OrderPlaced,
    OrderShippingArranged,
    OrderState,
    OrderStepCompensated,
    OrderStockReserved,
    PlaceOrder,
    RecordCompensation,
    RecordPayment,
    RecordShipment,
    RecordStep,
    SagaStep,
)
from domain.payments import (
    Payment,
    PaymentCaptured,
    PaymentRefunded,
    RecordCharge,
    RecordRefund,
    payment_key,
)
from domain.shipping import (
    ArrangeShipment,
    CancelShipment,
    Shipment,
    ShipmentArranged,
    ShipmentCancelled,
    ShipmentRefused,
)


def given(aggregate, *events):
    return reduce(aggregate.evolve, events, aggregate.initial())


def item(product_id="p1", quantity=1, price=100):
    return {"product_id": product_id, "product_name": "P", "quantity": quantity, "price": price}


def order(*items):
    return PlaceOrder.model_validate(
        {"order_id": "o1", "user_id": "u1", "items": list(items) or [item()]}
    )


PLACED = OrderPlaced(
    order_id="o1", user_id="u1", items=[OrderItem(**item())], total_amount=100, currency="JPY"
)


@pytest.mark.parametrize(
    "command",
    [
        RecordStep(order_id="o1", step=SagaStep.RESERVE_STOCK),
        BeginCompensation(order_id="o1", reason="r", compensations=[]),
        RecordCompensation(order_id="o1", compensation=Compensation.RELEASE_STOCK),
        CloseOrder(order_id="o1", outcome=OrderState.CANCELLED, reason="r"),
    ],
    ids=["a step", "a compensation's start", "a compensation", "a close"],
)
def test_nothing_but_its_placing_starts_an_order(command):
    # Found by the property tests: a close before the order was placed, then the
    # placing, left an order that had been CANCELLED running again.
    with pytest.raises(NotFound):
        Order.decide(Order.initial(), command)


class TestPlaceOrder:
    def test_total_is_the_sum_of_subtotals(self):
        assert order(item("a", 2, 150), item("b", 3, 10)).total_amount == 330

    @pytest.mark.parametrize("quantity", [0, 1001])
    def test_quantities_are_1_to_1000(self, quantity):
        with pytest.raises(ValidationError):
            order(item(quantity=quantity))

    def test_one_to_a_hundred_lines(self):
        with pytest.raises(ValidationError):
            PlaceOrder(order_id="o", user_id="u", items=[])
        with pytest.raises(ValidationError):
            order(*(item(f"p{i}") for i in range(101)))
        assert len(order(*(item(f"p{i}") for i in range(100))).items) == 100

    def test_one_line_per_product(self):
        with pytest.raises(ValidationError, match="more than one line"):
            order(item("a"), item("a"))

    def test_the_total_must_fit_a_graphql_int(self):
        with pytest.raises(ValidationError, match="exceeds"):
            order(item("a", 22, 100_000_000))


class TestOrder:
    def test_placing_records_the_order_once(self):
        assert Order.decide(given(Order), order()) == [PLACED]
        assert Order.decide(given(Order, PLACED), order()) == []

    def test_steps_advance_and_repeat_harmlessly(self):
        reserved = RecordStep(order_id="o1", step=SagaStep.RESERVE_STOCK)
        assert Order.decide(given(Order, PLACED), reserved) == [OrderStockReserved(order_id="o1")]
        assert Order.decide(given(Order, PLACED, OrderStockReserved(order_id="o1")), reserved) == []

    def test_payment_and_shipping_are_recorded_with_what_they_made(self):
        reserved = given(Order, PLACED, OrderStockReserved(order_id="o1"))
        paid = Order.decide(reserved, RecordPayment(order_id="o1", payment_id="c1", amount=100))
        assert paid == [OrderPaymentProcessed(order_id="o1", payment_id="c1", amount=100)]
        shipped = Order.decide(
            given(Order, PLACED, OrderStockReserved(order_id="o1"), *paid),
            RecordShipment(order_id="o1", shipment_id="s1"),
        )
        assert shipped == [OrderShippingArranged(order_id="o1", shipment_id="s1")]

    @pytest.mark.parametrize("step", [SagaStep.PROCESS_PAYMENT, SagaStep.ARRANGE_SHIPPING])
    def test_a_step_that_makes_something_is_no_bare_step(self, step):
        with pytest.raises(ValidationError, match="recorded with what it made"):
            RecordStep(order_id="o1", step=step)

    def test_no_step_is_recorded_while_compensating(self):
        state = given(
            Order,
            PLACED,
            OrderCompensationStarted(order_id="o1", reason="r", compensations=[]),
        )
        with pytest.raises(Conflict):
            Order.decide(state, RecordStep(order_id="o1", step=SagaStep.RESERVE_STOCK))

    def test_compensation_is_begun_and_recorded_once_each(self):
        begin = BeginCompensation(
            order_id="o1", reason="declined", compensations=[Compensation.RELEASE_STOCK]
        )
        started = OrderCompensationStarted(
            order_id="o1", reason="declined", compensations=[Compensation.RELEASE_STOCK]
        )
        assert Order.decide(given(Order, PLACED), begin) == [started]
        assert Order.decide(given(Order, PLACED, started), begin) == []
        done = OrderStepCompensated(order_id="o1", compensation=Compensation.RELEASE_STOCK)
        record = RecordCompensation(order_id="o1", compensation=Compensation.RELEASE_STOCK)
        assert Order.decide(given(Order, PLACED, started), record) == [done]
        assert Order.decide(given(Order, PLACED, started, done), record) == []

    def test_closing_cancels_or_fails_once(self):
        cancel = CloseOrder(order_id="o1", outcome=OrderState.CANCELLED, reason="r")
        fail = CloseOrder(order_id="o1", outcome=OrderState.FAILED, reason="r")
        assert Order.decide(given(Order, PLACED), cancel) == [
            OrderCancelled(order_id="o1", reason="r")
        ]
        assert Order.decide(given(Order, PLACED), fail) == [OrderFailed(order_id="o1", reason="r")]
        closed = given(Order, PLACED, OrderCancelled(order_id="o1", reason="r"))
        assert Order.decide(closed, fail) == []
        assert Order.decide(given(Order, PLACED, OrderConfirmed(order_id="o1")), cancel) == []


class TestStockReservations:
    STOCKED = StockAdded(product_id="p1", quantity=5, level=5)

    def test_reserving_lowers_what_is_available(self):
        reserve = ReserveStock(product_id="p1", order_id="o1", quantity=3)
        assert StockItem.decide(given(StockItem, self.STOCKED), reserve) == [
            StockReserved(product_id="p1", order_id="o1", quantity=3, level=2)
        ]

    def test_never_below_zero(self):
        reserve = ReserveStock(product_id="p1", order_id="o1", quantity=6)
        with pytest.raises(OutOfStock) as error:
            StockItem.decide(given(StockItem, self.STOCKED), reserve)
        assert error.value.code.value == "OUT_OF_STOCK"

    def test_one_reservation_per_order(self):
        held = StockReserved(product_id="p1", order_id="o1", quantity=3, level=2)
        reserve = ReserveStock(product_id="p1", order_id="o1", quantity=3)
        assert StockItem.decide(given(StockItem, self.STOCKED, held), reserve) == []

    def test_release_gives_back_what_the_order_held_once(self):
        held = StockReserved(product_id="p1", order_id="o1", quantity=3, level=2)
        release = ReleaseStock(product_id="p1", order_id="o1")
        released = StockReleased(product_id="p1", order_id="o1", quantity=3, level=5)
        assert StockItem.decide(given(StockItem, self.STOCKED, held), release) == [released]
        assert StockItem.decide(given(StockItem, self.STOCKED, held, released), release) == []
        assert StockItem.decide(given(StockItem, self.STOCKED), release) == []


class TestPayment:
    CAPTURED = PaymentCaptured(
        order_id="o1", charge_id="ch", amount=100, idempotency_key=payment_key("o1")
    )

    def test_a_charge_is_recorded_once_with_its_key(self):
        charge = RecordCharge(order_id="o1", charge_id="ch", amount=100)
        assert Payment.decide(given(Payment), charge) == [self.CAPTURED]
        assert Payment.decide(given(Payment, self.CAPTURED), charge) == []

    def test_refund_only_what_was_charged_and_only_once(self):
        refund = RecordRefund(order_id="o1")
        refunded = PaymentRefunded(order_id="o1", charge_id="ch", amount=100)
        assert Payment.decide(given(Payment), refund) == []
        assert Payment.decide(given(Payment, self.CAPTURED), refund) == [refunded]
        assert Payment.decide(given(Payment, self.CAPTURED, refunded), refund) == []


class TestShipment:
    def test_arranged_within_the_carriers_limit(self):
        arrange = ArrangeShipment(order_id="o1", units=5, max_units=5)
        assert Shipment.decide(given(Shipment), arrange) == [
            ShipmentArranged(order_id="o1", shipment_id=Shipment.shipment_id("o1"), units=5)
        ]

    def test_refused_above_it(self):
        arrange = ArrangeShipment(order_id="o1", units=6, max_units=5)
        (refused,) = Shipment.decide(given(Shipment), arrange)
        assert isinstance(refused, ShipmentRefused)
        assert Shipment.decide(given(Shipment, refused), arrange) == []

    def test_cancel_only_an_arranged_shipment_once(self):
        arranged = ShipmentArranged(order_id="o1", shipment_id="s", units=1)
        cancelled = ShipmentCancelled(order_id="o1", shipment_id="s")
        cancel = CancelShipment(order_id="o1")
        assert Shipment.decide(given(Shipment), cancel) == []
        assert Shipment.decide(given(Shipment, arranged), cancel) == [cancelled]
        assert Shipment.decide(given(Shipment, arranged, cancelled), cancel) == []
