"""The order saga's handlers: what each step and compensation records, in one unit of work.

Each appends its context's events and the order's progress event together, so
the order stream never claims a step that did not happen. The activities in
`activities.order_saga` call the outside world (the payment provider) and run
these; nothing here knows Temporal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from activities.handlers.unit_of_work import UnitOfWork
from domain.fraud import check_order
from domain.inventory import ReleaseStock, ReserveStock, SettleStock, StockItem
from domain.orders import (
    BeginCompensation,
    CloseOrder,
    Order,
    PlaceOrder,
    RecordCompensation,
    RecordFraudCheck,
    RecordPayment,
    RecordShipment,
    RecordStep,
)
from domain.payments import Payment, RecordCharge, RecordDecline, RecordRefund
from domain.saga import Compensation, SagaStep
from domain.shipping import ArrangeShipment, CancelShipment, Shipment
from read_models.queries import confirmed_order_count

OrderProgressCommand = (
    PlaceOrder
    | RecordStep
    | RecordPayment
    | RecordShipment
    | RecordFraudCheck
    | BeginCompensation
    | RecordCompensation
    | CloseOrder
)
"""A command of the order's own stream: the saga's log."""


async def record_progress(uow: UnitOfWork[Any], command: OrderProgressCommand) -> None:
    """Place the order, or record how far its saga got (the bookkeeping steps, whole)."""
    await uow.decide(Order, Order.stream_id(command.order_id), command)


async def reserve_stock(uow: UnitOfWork[Any], order_id: str, quantities: Mapping[str, int]) -> None:
    """Reserve every product's quantity or none (one transaction; OUT_OF_STOCK refuses all)."""
    await uow.lock(*(StockItem.stream_id(product) for product in quantities))
    for product, quantity in quantities.items():
        reserve = ReserveStock(product_id=product, order_id=order_id, quantity=quantity)
        await uow.decide(StockItem, StockItem.stream_id(product), reserve)
    await record_progress(uow, RecordStep(order_id=order_id, step=SagaStep.RESERVE_STOCK))


async def check_fraud(
    uow: UnitOfWork[AsyncConnection],
    *,
    order_id: str,
    customer_id: str,
    amount: int,
    review_above: int,
) -> None:
    """Record the fraud check's verdict, from the customer's confirmed orders so far."""
    confirmed = await confirmed_order_count(uow.conn, customer_id)
    verdict = check_order(
        total_amount=amount, confirmed_orders=confirmed, review_above=review_above
    )
    await record_progress(uow, RecordFraudCheck(order_id=order_id, verdict=verdict))


async def record_decline(uow: UnitOfWork[Any], decline: RecordDecline) -> None:
    await uow.decide(Payment, Payment.stream_id(decline.order_id), decline)


async def record_charge(uow: UnitOfWork[Any], charge: RecordCharge) -> None:
    """The provider took the payment: the payment's stream and the order's say so together."""
    await uow.decide(Payment, Payment.stream_id(charge.order_id), charge)
    paid = RecordPayment(
        order_id=charge.order_id, payment_id=charge.charge_id, amount=charge.amount
    )
    await record_progress(uow, paid)


async def arrange_shipment(uow: UnitOfWork[Any], arrange: ArrangeShipment) -> None:
    """Book the shipment; a refusal is recorded on the shipment's stream only."""
    stream_id = Shipment.stream_id(arrange.order_id)
    await uow.decide(Shipment, stream_id, arrange)
    shipment = await uow.load(Shipment, stream_id)
    if shipment.shipment_id is not None:
        arranged = RecordShipment(order_id=arrange.order_id, shipment_id=shipment.shipment_id)
        await record_progress(uow, arranged)


async def confirm_order(uow: UnitOfWork[Any], order_id: str) -> None:
    """Confirm the order and settle its reservations into sales."""
    order = await uow.load(Order, Order.stream_id(order_id))
    products = sorted({item.product_id for item in order.items})
    await uow.lock(*(StockItem.stream_id(product) for product in products))
    for product in products:
        settle = SettleStock(product_id=product, order_id=order_id)
        await uow.decide(StockItem, StockItem.stream_id(product), settle)
    await record_progress(uow, RecordStep(order_id=order_id, step=SagaStep.CONFIRM_ORDER))


async def release_stock(uow: UnitOfWork[Any], order_id: str, products: Sequence[str]) -> None:
    """Release the order's reservation of each product; one never reserved changes nothing."""
    await uow.lock(*(StockItem.stream_id(product) for product in products))
    for product in products:
        release = ReleaseStock(product_id=product, order_id=order_id)
        await uow.decide(StockItem, StockItem.stream_id(product), release)
    await _compensated(uow, order_id, Compensation.RELEASE_STOCK)


async def record_refund(uow: UnitOfWork[Any], order_id: str, *, refunded: bool) -> None:
    """The provider refunded the charge, or had nothing to refund: the payment is undone."""
    if refunded:
        await uow.decide(Payment, Payment.stream_id(order_id), RecordRefund(order_id=order_id))
    await _compensated(uow, order_id, Compensation.REFUND_PAYMENT)


async def cancel_shipment(uow: UnitOfWork[Any], order_id: str) -> None:
    await uow.decide(Shipment, Shipment.stream_id(order_id), CancelShipment(order_id=order_id))
    await _compensated(uow, order_id, Compensation.CANCEL_SHIPMENT)


async def _compensated(uow: UnitOfWork[Any], order_id: str, compensation: Compensation) -> None:
    await record_progress(uow, RecordCompensation(order_id=order_id, compensation=compensation))
