"""The books the event log keeps, folded stream by stream and checked as they are read.

Pure: it sees events and read-model rows, and writes findings. `ops.audit.run_audit`
feeds it from PostgreSQL in one snapshot, so the log and the read models it
compares belong to the same moment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from domain.inventory import StockAdded, StockReleased, StockReserved, StockSettled
from domain.orders import Order, OrderEvent, OrderProgress
from domain.payments import Payment, PaymentCaptured, PaymentDeclined, PaymentRefunded, PaymentState
from domain.saga import OrderState, OrderStatus
from eventstore import RecordedEvent
from ops.audit.findings import AuditReport, Invariant

Key = tuple[str, str]
"""(tenant, id): ids are unique per tenant only."""


@dataclass
class _Stream:
    count: int = 0
    highest: int = 0


StockChange = StockAdded | StockReserved | StockReleased | StockSettled


@dataclass
class _Stock:
    level: int = 0
    reservations: dict[str, int] = field(default_factory=dict)


@dataclass
class Books:
    """What the log says, per tenant: streams, commands, stock, payments and orders."""

    report: AuditReport
    streams: dict[Key, _Stream] = field(default_factory=dict)
    commands: dict[Key, set[int]] = field(default_factory=dict)
    stock: dict[Key, _Stock] = field(default_factory=dict)
    payments: dict[Key, PaymentState] = field(default_factory=dict)
    orders: dict[Key, OrderProgress] = field(default_factory=dict)

    def read(self, recorded: RecordedEvent) -> None:
        tenant = recorded.metadata.tenant_id
        self.report.counted["events"] += 1
        stream = self.streams.setdefault((tenant, recorded.stream_id), _Stream())
        stream.count += 1
        stream.highest = max(stream.highest, recorded.version)
        command = (tenant, recorded.metadata.command_id)
        self.commands.setdefault(command, set()).add(recorded.position.transaction_id)
        match recorded.event:
            case StockAdded() | StockReserved() | StockReleased() | StockSettled() as change:
                self._stock(tenant, change)
            case PaymentCaptured() | PaymentDeclined() | PaymentRefunded() as payment:
                key = (tenant, payment.order_id)
                state = self.payments.get(key, Payment.initial())
                self.payments[key] = Payment.evolve(state, payment)
            case OrderEvent() as progress:
                key = (tenant, progress.order_id)
                self.orders[key] = Order.evolve(self.orders.get(key, Order.initial()), progress)

    def _stock(self, tenant: str, change: StockChange) -> None:
        product = change.product_id
        stock = self.stock.setdefault((tenant, product), _Stock())
        match change:
            case StockAdded(quantity=quantity):
                expected = stock.level + quantity
            case StockReserved(order_id=order_id, quantity=quantity):
                expected = stock.level - quantity
                stock.reservations[order_id] = quantity
            case (
                StockReleased(order_id=order_id, quantity=quantity)
                | StockSettled(order_id=order_id, quantity=quantity)
            ):
                released = isinstance(change, StockReleased)
                expected = stock.level + quantity if released else stock.level
                held = stock.reservations.pop(order_id, None)
                if held != quantity:
                    verb = "released" if released else "settled"
                    self.report.add(
                        Invariant.STOCK,
                        tenant,
                        f"product {product}",
                        f"order {order_id} {verb} {quantity} units but held {held or 0}",
                    )
        if change.level != expected:
            self.report.add(
                Invariant.STOCK,
                tenant,
                f"product {product}",
                f"{type(change).__name__} left {change.level} units; the log adds up to {expected}",
            )
        if change.level < 0:
            self.report.add(
                Invariant.STOCK, tenant, f"product {product}", f"stock fell to {change.level}"
            )
        stock.level = change.level

    def check_log(self) -> None:
        """Streams without gaps, and no command applied in two transactions."""
        for (tenant, stream_id), stream in self.streams.items():
            if stream.highest != stream.count:
                self.report.add(
                    Invariant.LOG,
                    tenant,
                    f"stream {stream_id}",
                    f"{stream.count} events up to version {stream.highest}: versions are missing",
                )
        for (tenant, command_id), transactions in self.commands.items():
            if len(transactions) > 1:
                self.report.add(
                    Invariant.LOG,
                    tenant,
                    f"command {command_id}",
                    f"applied in {len(transactions)} transactions",
                )
        self.report.counted["streams"] += len(self.streams)

    def check_against(
        self, product_stock: Mapping[Key, int], order_statuses: Mapping[Key, str]
    ) -> None:
        """The read models agree with the log, and no order is half-done by its books."""
        self.report.counted["products"] += len(self.stock)
        self.report.counted["orders"] += len(self.orders)
        for (tenant, product), stock in self.stock.items():
            shown = product_stock.get((tenant, product))
            if shown is not None and shown != stock.level:
                self.report.add(
                    Invariant.STOCK,
                    tenant,
                    f"product {product}",
                    f"the products read model shows {shown} units; the log has {stock.level}",
                )
        holders = {
            (tenant, order_id): (product, units)
            for (tenant, product), stock in self.stock.items()
            for order_id, units in stock.reservations.items()
        }
        for key, progress in self.orders.items():
            self._check_order(key, progress, holders.get(key), order_statuses.get(key))
        for (tenant, order_id), payment in self.payments.items():
            if (tenant, order_id) not in self.orders and _charged(payment):
                self.report.add(
                    Invariant.MONEY, tenant, f"order {order_id}", "charged, but there is no order"
                )

    def _check_order(
        self,
        key: Key,
        progress: OrderProgress,
        holding: tuple[str, int] | None,
        shown: str | None,
    ) -> None:
        tenant, order_id = key
        subject = f"order {order_id}"
        expected = None
        if progress.placed:
            started = progress.state is OrderState.STARTED
            expected = OrderStatus.PENDING if started else OrderStatus.of(progress.state)
        if shown != expected:
            self.report.add(
                Invariant.ORDERS,
                tenant,
                subject,
                f"the orders read model says {shown or 'nothing'}; its events say {expected}",
            )
        payment = self.payments.get(key, Payment.initial())
        if progress.state is OrderState.CONFIRMED and not _charged(payment):
            self.report.add(Invariant.MONEY, tenant, subject, "CONFIRMED, but not charged")
        if progress.finished and progress.state is not OrderState.CONFIRMED and _charged(payment):
            self.report.add(
                Invariant.MONEY,
                tenant,
                subject,
                f"{progress.state.value}, but its charge {payment.charge_id} "
                f"({payment.amount} yen) was not refunded",
            )
        if progress.state is OrderState.CANCELLED and holding is not None:
            product, units = holding
            self.report.add(
                Invariant.STOCK,
                tenant,
                subject,
                f"CANCELLED, but still holds {units} units of product {product}",
            )


def _charged(payment: PaymentState) -> bool:
    """Captured and not refunded."""
    return payment.charge_id is not None and not payment.refunded
