"""The audit's bookkeeping, event by event: each invariant holds for a sound log and
breaks, with a finding that names its subject, for each kind of damage."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime

import pytest

from domain.inventory import StockAdded, StockReleased, StockReserved, StockSettled
from domain.messages import DomainEvent
from domain.orders import (
    OrderCancelled,
    OrderConfirmed,
    OrderItem,
    OrderPaymentProcessed,
    OrderPlaced,
    OrderShippingArranged,
    OrderStockReserved,
)
from domain.payments import PaymentCaptured, PaymentRefunded, payment_key
from eventstore import RecordedEvent
from eventstore.records import EventMetadata, Position
from ops.audit.books import Books
from ops.audit.findings import AuditReport, Invariant

_positions = itertools.count(1)


def captured(order_id: str, charge_id: str, amount: int) -> PaymentCaptured:
    return PaymentCaptured(
        order_id=order_id,
        charge_id=charge_id,
        amount=amount,
        idempotency_key=payment_key(order_id),
    )


class Log:
    """Events as the store would hand them over, with versions per stream."""

    def __init__(self) -> None:
        self.events: list[RecordedEvent] = []
        self.versions: dict[str, int] = {}

    def add(self, stream: str, event: DomainEvent, *, command: str | None = None) -> None:
        version = self.versions.get(stream, 0) + 1
        self.versions[stream] = version
        self.events.append(
            RecordedEvent(
                position=Position(next(_positions), 0),
                stream_id=stream,
                version=version,
                event_id=str(uuid.uuid4()),
                event=event,
                metadata=EventMetadata(
                    command_id=command or str(uuid.uuid4()),
                    correlation_id="c",
                    causation_id="c",
                    tenant_id="acme",
                ),
                recorded_at=datetime.now(UTC),
            )
        )

    def confirmed_order(self, order_id: str = "o1", *, units: int = 2) -> None:
        item = OrderItem(product_id="p1", product_name="Pen", quantity=units, price=100)
        self.add(
            f"order-{order_id}",
            OrderPlaced(
                order_id=order_id,
                user_id="u",
                items=[item],
                total_amount=100 * units,
                currency="JPY",
            ),
        )
        self.add(
            "stock-p1",
            StockReserved(product_id="p1", order_id=order_id, quantity=units, level=10 - units),
        )
        self.add(f"order-{order_id}", OrderStockReserved(order_id=order_id))
        self.add(
            f"payment-{order_id}",
            captured(order_id, f"ch-{order_id}", 100 * units),
        )
        self.add(
            f"order-{order_id}",
            OrderPaymentProcessed(
                order_id=order_id, payment_id=f"ch-{order_id}", amount=100 * units
            ),
        )
        self.add(f"order-{order_id}", OrderShippingArranged(order_id=order_id, shipment_id="s"))
        self.add(
            "stock-p1",
            StockSettled(product_id="p1", order_id=order_id, quantity=units, level=10 - units),
        )
        self.add(f"order-{order_id}", OrderConfirmed(order_id=order_id))


def audit(
    log: Log, *, stock: int | None = 8, statuses: dict[str, str] | None = None
) -> AuditReport:
    report = AuditReport()
    books = Books(report)
    for event in log.events:
        books.read(event)
    books.check_log()
    shown = {"o1": "CONFIRMED"} if statuses is None else statuses
    books.check_against(
        {} if stock is None else {("acme", "p1"): stock},
        {("acme", order): status for order, status in shown.items()},
    )
    return report


def stocked() -> Log:
    log = Log()
    log.add("stock-p1", StockAdded(product_id="p1", quantity=10, level=10))
    return log


def test_a_sound_log_has_no_findings():
    log = stocked()
    log.confirmed_order()
    report = audit(log)
    assert report.findings == []
    assert report.counted["events"] == len(log.events)
    assert (report.counted["orders"], report.counted["products"]) == (1, 1)


def findings(report: AuditReport, invariant: Invariant) -> list[str]:
    return [f"{f.subject}: {f.problem}" for f in report.findings if f.invariant is invariant]


def test_a_level_that_does_not_add_up_and_stock_below_zero():
    log = stocked()
    log.add("stock-p1", StockReserved(product_id="p1", order_id="o9", quantity=3, level=8))
    log.add("stock-p1", StockReserved(product_id="p1", order_id="o8", quantity=9, level=-1))
    found = findings(audit(log, stock=-1, statuses={}), Invariant.STOCK)
    assert "product p1: StockReserved left 8 units; the log adds up to 7" in found
    assert "product p1: stock fell to -1" in found


def test_a_release_of_what_was_not_reserved():
    log = stocked()
    log.add("stock-p1", StockReleased(product_id="p1", order_id="o7", quantity=2, level=12))
    found = findings(audit(log, stock=12, statuses={}), Invariant.STOCK)
    assert found == ["product p1: order o7 released 2 units but held 0"]


def test_a_settlement_keeps_the_level_and_must_match_what_was_held():
    log = stocked()
    log.add("stock-p1", StockReserved(product_id="p1", order_id="o7", quantity=2, level=8))
    log.add("stock-p1", StockSettled(product_id="p1", order_id="o7", quantity=3, level=8))
    log.add("stock-p1", StockSettled(product_id="p1", order_id="o6", quantity=1, level=9))
    found = findings(audit(log, stock=9, statuses={}), Invariant.STOCK)
    assert found == [
        "product p1: order o7 settled 3 units but held 2",
        "product p1: order o6 settled 1 units but held 0",
        "product p1: StockSettled left 9 units; the log adds up to 8",
    ]


def test_the_read_model_must_show_the_logs_stock():
    log = stocked()
    log.confirmed_order()
    found = findings(audit(log, stock=9), Invariant.STOCK)
    assert found == ["product p1: the products read model shows 9 units; the log has 8"]


def test_a_cancelled_order_that_still_holds_stock_or_money():
    log = stocked()
    item = OrderItem(product_id="p1", product_name="Pen", quantity=2, price=100)
    log.add(
        "order-o1",
        OrderPlaced(order_id="o1", user_id="u", items=[item], total_amount=200, currency="JPY"),
    )
    log.add("stock-p1", StockReserved(product_id="p1", order_id="o1", quantity=2, level=8))
    log.add("payment-o1", captured("o1", "ch-o1", 200))
    log.add("order-o1", OrderCancelled(order_id="o1", reason="changed my mind"))
    report = audit(log, statuses={"o1": "CANCELLED"})
    assert findings(report, Invariant.STOCK) == [
        "order o1: CANCELLED, but still holds 2 units of product p1"
    ]
    assert findings(report, Invariant.MONEY) == [
        "order o1: CANCELLED, but its charge ch-o1 (200 yen) was not refunded"
    ]


def test_a_confirmed_order_without_its_charge_and_a_charge_without_an_order():
    log = stocked()
    log.confirmed_order()
    log.add("payment-o1", PaymentRefunded(order_id="o1", charge_id="ch-o1", amount=200))
    log.add("payment-o2", captured("o2", "ch-o2", 5))
    found = findings(audit(log), Invariant.MONEY)
    assert found == [
        "order o1: CONFIRMED, but not charged",
        "order o2: charged, but there is no order",
    ]


@pytest.mark.parametrize(
    ("shown", "expected"),
    [("PENDING", "CONFIRMED"), (None, "CONFIRMED")],
    ids=["another status", "no row at all"],
)
def test_the_orders_read_model_must_say_what_the_events_say(shown, expected):
    log = stocked()
    log.confirmed_order()
    report = audit(log, statuses={} if shown is None else {"o1": shown})
    assert findings(report, Invariant.ORDERS) == [
        f"order o1: the orders read model says {shown or 'nothing'}; its events say {expected}"
    ]


def test_a_stream_with_a_gap_and_a_command_applied_twice():
    log = stocked()
    log.confirmed_order()
    del log.events[3]  # order-o1 version 2 is gone
    log.add("stock-p1", StockAdded(product_id="p1", quantity=1, level=9), command="add-once")
    log.add("stock-p1", StockAdded(product_id="p1", quantity=1, level=10), command="add-once")
    found = findings(audit(log, stock=10), Invariant.LOG)
    assert found == [
        "stream order-o1: 4 events up to version 5: versions are missing",
        "command add-once: applied in 2 transactions",
    ]
