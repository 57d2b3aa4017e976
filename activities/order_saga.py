"""The order saga's activities: one per step and per compensation.

Each runs in one transaction that appends its context's events and the
order's progress event together, so the order stream never claims a step
that did not happen. Command ids are derived from the order and the activity,
so Temporal's at-least-once execution changes nothing twice; the payment
provider gets an idempotency key derived the same way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.unit_of_work import Aggregate, UnitOfWork, load_aggregate, run_in_unit_of_work
from domain.errors import DomainError
from domain.fraud import HELD_FOR_REVIEW, check_order
from domain.inventory import OutOfStock, ReleaseStock, ReserveStock, SettleStock, StockItem
from domain.orders import (
    BeginCompensation,
    CloseOrder,
    Order,
    RecordCompensation,
    RecordFraudCheck,
    RecordPayment,
    RecordShipment,
    RecordStep,
)
from domain.payments import Payment, RecordCharge, RecordDecline, RecordRefund, payment_key
from domain.saga import Compensation, Refusal, SagaStep
from domain.shipping import ArrangeShipment, CancelShipment, Shipment
from eventstore import EventMetadata, EventStore
from observability.tracing import trace_context
from psp.client import ChargeDeclined, PaymentProvider, ProviderUnavailable
from read_models import Projection
from read_models.queries import confirmed_order_count
from tenancy import set_tenant
from workflows.saga_activities import (
    BeginCompensationInput,
    CloseOrderInput,
    OrderSagaActivities,
    PaymentInput,
    PlaceOrderInput,
    SagaCall,
    ShipmentInput,
    StepResult,
    StockInput,
)

log = structlog.get_logger(__name__)

Handler = Callable[[UnitOfWork], Awaitable[None]]
S = TypeVar("S")


class SagaActivities(OrderSagaActivities):
    """Built once per worker with its resources; Temporal calls the methods.

    Each method implements the declaration it overrides in `OrderSagaActivities`.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        store: EventStore,
        projections: Sequence[Projection],
        provider: PaymentProvider,
        *,
        shipping_max_units: int,
        fraud_review_above: int,
        conflict_retries: int,
    ) -> None:
        self._engine = engine
        self._store = store
        self._projections = projections
        self._provider = provider
        self._shipping_max_units = shipping_max_units
        self._fraud_review_above = fraud_review_above
        self._conflict_retries = conflict_retries

    async def _read_back(self, call: SagaCall, aggregate: Aggregate[S, Any], stream_id: str) -> S:
        """An aggregate's state as committed, in the call's tenant."""
        async with self._engine.connect() as conn:
            await set_tenant(conn, call.context.tenant_id)
            state, _ = await load_aggregate(conn, self._store, aggregate, stream_id)
        return state

    async def _record(self, call: SagaCall, handler: Handler, *, name: str | None = None) -> None:
        """Run `handler` in one unit of work, with a command id of this order and activity.

        `name` defaults to the running activity's own name.
        """
        order_id = call.order_id
        name = name or activity.info().activity_type
        metadata = EventMetadata(
            command_id=f"{order_id}:{name}",
            correlation_id=order_id,
            causation_id=call.context.command_id,
            actor=call.context.actor,
            tenant_id=call.context.tenant_id,
            trace=call.context.trace or trace_context(),
        )
        try:
            with structlog.contextvars.bound_contextvars(
                correlation_id=metadata.correlation_id, order_id=order_id
            ):
                await run_in_unit_of_work(
                    self._engine,
                    self._store,
                    metadata,
                    self._projections,
                    handler,
                    conflict_retries=self._conflict_retries,
                )
                log.info("saga step recorded", step=name)
        except OutOfStock as refusal:
            raise _final(Refusal.OUT_OF_STOCK, refusal.message) from None
        except DomainError as refusal:
            raise _final(refusal.code.value, refusal.message) from None

    @activity.defn
    async def place_order(self, call: PlaceOrderInput) -> StepResult:
        async def handle(uow: UnitOfWork) -> None:
            await uow.decide(Order, Order.stream_id(call.order_id), call.order)

        await self._record(call, handle)
        return StepResult()

    @activity.defn
    async def reserve_stock(self, call: StockInput) -> StepResult:
        """Reserve every line or none (one transaction); OUT_OF_STOCK is final."""
        order_id = call.order_id

        async def handle(uow: UnitOfWork) -> None:
            await uow.lock(*(StockItem.stream_id(line.product_id) for line in call.lines))
            for line in call.lines:
                reserve = ReserveStock(
                    product_id=line.product_id, order_id=order_id, quantity=line.quantity
                )
                await uow.decide(StockItem, StockItem.stream_id(line.product_id), reserve)
            reserved = RecordStep(order_id=order_id, step=SagaStep.RESERVE_STOCK)
            await _progress(uow, order_id, reserved)

        await self._record(call, handle)
        return StepResult()

    @activity.defn
    async def check_fraud(self, call: PaymentInput) -> StepResult:
        """Hold a first large order for review; FRAUD_SUSPECTED is final.

        The verdict is recorded, then read back and answered: a retry (whose
        command was recorded already, so its handler does not run) answers the
        first attempt's verdict, never one of its own. The customer's confirmed
        orders come from the orders read model, projected inline, in the
        transactions that confirmed them.
        """
        order_id = call.order_id

        async def handle(uow: UnitOfWork) -> None:
            confirmed = await confirmed_order_count(uow.conn, call.customer_id)
            verdict = check_order(
                total_amount=call.amount,
                confirmed_orders=confirmed,
                review_above=self._fraud_review_above,
            )
            await _progress(uow, order_id, RecordFraudCheck(order_id=order_id, verdict=verdict))

        await self._record(call, handle)
        # Read back rather than trust this attempt: the handler does not run for a
        # command recorded before, and a rolled-back attempt's verdict counts for nothing.
        verdict = (await self._read_back(call, Order, Order.stream_id(order_id))).fraud_check
        if verdict is None:  # recorded above, so only a broken store gets here: retried
            raise RuntimeError(f"order {order_id} has no fraud check recorded")
        if not verdict.passed:
            # The customer sees the saga's reason; the rule's detail stays in the event.
            raise _final(Refusal.FRAUD_SUSPECTED, HELD_FOR_REVIEW)
        return StepResult()

    @activity.defn
    async def process_payment(self, call: PaymentInput) -> StepResult:
        """Charge once per order (the key makes a repeat harmless); a decline is final."""
        order_id = call.order_id
        try:
            charge = await self._provider.charge(
                key=payment_key(order_id), amount=call.amount, customer=call.customer_id
            )
        except ChargeDeclined as declined:
            decline = RecordDecline(order_id=order_id, amount=call.amount, reason=declined.reason)

            async def record_decline(uow: UnitOfWork) -> None:
                await uow.decide(Payment, Payment.stream_id(order_id), decline)

            await self._record(call, record_decline, name="payment_declined")
            reason = f"payment declined: {declined.reason}"
            raise _final(Refusal.PAYMENT_DECLINED, reason) from None
        except ProviderUnavailable as fault:
            # Retried by the activity's retry policy until the payment deadline.
            raise _unavailable(fault) from None

        async def handle(uow: UnitOfWork) -> None:
            captured = RecordCharge(
                order_id=order_id, charge_id=charge.charge_id, amount=charge.amount
            )
            await uow.decide(Payment, Payment.stream_id(order_id), captured)
            paid = RecordPayment(
                order_id=order_id, payment_id=charge.charge_id, amount=charge.amount
            )
            await _progress(uow, order_id, paid)

        await self._record(call, handle)
        return StepResult(reference=charge.charge_id)

    @activity.defn
    async def arrange_shipping(self, call: ShipmentInput) -> StepResult:
        """Book the shipment; the carrier's refusal is recorded, then final."""
        order_id = call.order_id
        stream_id = Shipment.stream_id(order_id)

        async def handle(uow: UnitOfWork) -> None:
            arrange = ArrangeShipment(
                order_id=order_id, units=call.units, max_units=self._shipping_max_units
            )
            await uow.decide(Shipment, stream_id, arrange)
            shipment = await uow.load(Shipment, stream_id)
            if shipment.shipment_id is not None:
                arranged = RecordShipment(order_id=order_id, shipment_id=shipment.shipment_id)
                await _progress(uow, order_id, arranged)

        await self._record(call, handle)
        # Read back rather than trust this attempt: a retry of a refused
        # shipment finds the refusal recorded and must refuse again.
        shipment = await self._read_back(call, Shipment, stream_id)
        if shipment.refused or shipment.shipment_id is None:
            reason = f"shipping refused: the carrier takes at most {self._shipping_max_units} units"
            raise _final(Refusal.SHIPPING_REFUSED, reason)
        return StepResult(reference=shipment.shipment_id)

    @activity.defn
    async def confirm_order(self, call: SagaCall) -> StepResult:
        """Confirm the order and settle its reservations into sales, in one transaction."""
        order_id = call.order_id

        async def handle(uow: UnitOfWork) -> None:
            order = await uow.load(Order, Order.stream_id(order_id))
            products = sorted({item.product_id for item in order.items})
            await uow.lock(*(StockItem.stream_id(product) for product in products))
            for product in products:
                settle = SettleStock(product_id=product, order_id=order_id)
                await uow.decide(StockItem, StockItem.stream_id(product), settle)
            await _progress(
                uow, order_id, RecordStep(order_id=order_id, step=SagaStep.CONFIRM_ORDER)
            )

        await self._record(call, handle)
        return StepResult()

    @activity.defn
    async def begin_compensation(self, call: BeginCompensationInput) -> StepResult:
        order_id = call.order_id
        begin = BeginCompensation(
            order_id=order_id, reason=call.reason, compensations=list(call.compensations)
        )

        async def handle(uow: UnitOfWork) -> None:
            await _progress(uow, order_id, begin)

        await self._record(call, handle)
        return StepResult()

    @activity.defn
    async def release_stock(self, call: StockInput) -> StepResult:
        """Release each line's reservation; lines never reserved change nothing."""
        order_id = call.order_id

        async def handle(uow: UnitOfWork) -> None:
            await uow.lock(*(StockItem.stream_id(line.product_id) for line in call.lines))
            for line in call.lines:
                release = ReleaseStock(product_id=line.product_id, order_id=order_id)
                await uow.decide(StockItem, StockItem.stream_id(line.product_id), release)
            await _compensated(uow, order_id, Compensation.RELEASE_STOCK)

        await self._record(call, handle)
        return StepResult()

    @activity.defn
    async def refund_payment(self, call: SagaCall) -> StepResult:
        """Refund by the charge's key; the provider says when nothing was charged."""
        order_id = call.order_id
        try:
            refunded = await self._provider.refund(key=payment_key(order_id))
        except ProviderUnavailable as fault:
            raise _unavailable(fault) from None

        async def handle(uow: UnitOfWork) -> None:
            if refunded:
                await uow.decide(
                    Payment, Payment.stream_id(order_id), RecordRefund(order_id=order_id)
                )
            await _compensated(uow, order_id, Compensation.REFUND_PAYMENT)

        await self._record(call, handle)
        return StepResult(reference="refunded" if refunded else "nothing to refund")

    @activity.defn
    async def cancel_shipment(self, call: SagaCall) -> StepResult:
        order_id = call.order_id

        async def handle(uow: UnitOfWork) -> None:
            await uow.decide(
                Shipment, Shipment.stream_id(order_id), CancelShipment(order_id=order_id)
            )
            await _compensated(uow, order_id, Compensation.CANCEL_SHIPMENT)

        await self._record(call, handle)
        return StepResult()

    @activity.defn
    async def close_order(self, call: CloseOrderInput) -> StepResult:
        order_id = call.order_id
        close = CloseOrder(order_id=order_id, outcome=call.outcome, reason=call.reason)

        async def handle(uow: UnitOfWork) -> None:
            await _progress(uow, order_id, close)

        await self._record(call, handle)
        return StepResult()


async def _progress(
    uow: UnitOfWork,
    order_id: str,
    command: RecordStep
    | RecordPayment
    | RecordShipment
    | RecordFraudCheck
    | BeginCompensation
    | CloseOrder,
) -> None:
    await uow.decide(Order, Order.stream_id(order_id), command)


async def _compensated(uow: UnitOfWork, order_id: str, compensation: Compensation) -> None:
    record = RecordCompensation(order_id=order_id, compensation=compensation)
    await uow.decide(Order, Order.stream_id(order_id), record)


def _final(kind: str, message: str) -> ApplicationError:
    return ApplicationError(message, type=kind, non_retryable=True)


def _unavailable(fault: ProviderUnavailable) -> ApplicationError:
    return ApplicationError(f"payment provider unavailable: {fault}", type="PSP_UNAVAILABLE")
