"""The order saga's activities: one per step and per compensation.

Each runs in one transaction that appends its context's events and the
order's progress event together, so the order stream never claims a step
that did not happen. Command ids are derived from the order and the activity,
so Temporal's at-least-once execution changes nothing twice; the payment
provider gets an idempotency key derived the same way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.unit_of_work import UnitOfWork, run_in_unit_of_work
from domain.errors import DomainError
from domain.inventory import OutOfStock, ReleaseStock, ReserveStock, StockItem
from domain.orders import (
    BeginCompensation,
    CloseOrder,
    Compensation,
    Order,
    OrderState,
    RecordCompensation,
    RecordStep,
    SagaStep,
)
from domain.payments import Payment, RecordCharge, RecordDecline, RecordRefund, payment_key
from domain.shipping import ArrangeShipment, CancelShipment, Shipment
from eventstore import EventMetadata, PostgresEventStore
from observability.tracing import trace_context
from psp.client import ChargeDeclined, PaymentProvider, ProviderUnavailable
from read_models import Projection
from workflows.contracts import BusinessFailure, SagaActivity, StepInput, StepResult

log = structlog.get_logger(__name__)

Handler = Callable[[UnitOfWork], Awaitable[None]]


class SagaActivities:
    """Built once per worker with its resources; Temporal calls the methods."""

    def __init__(
        self,
        engine: AsyncEngine,
        store: PostgresEventStore,
        projections: Sequence[Projection],
        provider: PaymentProvider,
        *,
        shipping_max_units: int,
        conflict_retries: int,
    ) -> None:
        self._engine = engine
        self._store = store
        self._projections = projections
        self._provider = provider
        self._shipping_max_units = shipping_max_units
        self._conflict_retries = conflict_retries

    async def _record(self, step: StepInput, name: str, handler: Handler) -> None:
        order_id = step.order.order_id
        metadata = EventMetadata(
            command_id=f"{order_id}:{name}",
            correlation_id=order_id,
            causation_id=step.context.command_id,
            actor=step.context.actor,
            tenant_id=step.context.tenant_id,
            trace=step.context.trace or trace_context(),
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
            raise _final(BusinessFailure.OUT_OF_STOCK, refusal.message) from None
        except DomainError as refusal:
            raise _final(refusal.code.value, refusal.message) from None

    @activity.defn(name=SagaActivity.PLACE_ORDER)
    async def place_order(self, step: StepInput) -> StepResult:
        order = step.order

        async def handle(uow: UnitOfWork) -> None:
            await uow.decide(Order, Order.stream_id(order.order_id), order)

        await self._record(step, SagaActivity.PLACE_ORDER, handle)
        return StepResult()

    @activity.defn(name=SagaActivity.RESERVE_STOCK)
    async def reserve_stock(self, step: StepInput) -> StepResult:
        """Reserve every line or none (one transaction); OUT_OF_STOCK is final."""
        order = step.order

        async def handle(uow: UnitOfWork) -> None:
            await uow.lock(*(StockItem.stream_id(item.product_id) for item in order.items))
            for item in order.items:
                reserve = ReserveStock(
                    product_id=item.product_id, order_id=order.order_id, quantity=item.quantity
                )
                await uow.decide(StockItem, StockItem.stream_id(item.product_id), reserve)
            await _progress(
                uow,
                order.order_id,
                RecordStep(order_id=order.order_id, step=SagaStep.RESERVE_STOCK),
            )

        await self._record(step, SagaActivity.RESERVE_STOCK, handle)
        return StepResult()

    @activity.defn(name=SagaActivity.PROCESS_PAYMENT)
    async def process_payment(self, step: StepInput) -> StepResult:
        """Charge once per order (the key makes a repeat harmless); a decline is final."""
        order = step.order
        try:
            charge = await self._provider.charge(
                key=payment_key(order.order_id), amount=order.total_amount, customer=order.user_id
            )
        except ChargeDeclined as declined:
            decline = RecordDecline(
                order_id=order.order_id, amount=order.total_amount, reason=declined.reason
            )

            async def record_decline(uow: UnitOfWork) -> None:
                await uow.decide(Payment, Payment.stream_id(order.order_id), decline)

            await self._record(step, "payment_declined", record_decline)
            reason = f"payment declined: {declined.reason}"
            raise _final(BusinessFailure.PAYMENT_DECLINED, reason) from None
        except ProviderUnavailable as fault:
            # Retried by the activity's retry policy until the payment deadline.
            raise _unavailable(fault) from None

        async def handle(uow: UnitOfWork) -> None:
            captured = RecordCharge(
                order_id=order.order_id, charge_id=charge.charge_id, amount=charge.amount
            )
            await uow.decide(Payment, Payment.stream_id(order.order_id), captured)
            paid = RecordStep(
                order_id=order.order_id,
                step=SagaStep.PROCESS_PAYMENT,
                reference=charge.charge_id,
                amount=charge.amount,
            )
            await _progress(uow, order.order_id, paid)

        await self._record(step, SagaActivity.PROCESS_PAYMENT, handle)
        return StepResult(reference=charge.charge_id)

    @activity.defn(name=SagaActivity.ARRANGE_SHIPPING)
    async def arrange_shipping(self, step: StepInput) -> StepResult:
        """Book the shipment; the carrier's refusal is recorded, then final."""
        order = step.order
        stream_id = Shipment.stream_id(order.order_id)
        units = sum(item.quantity for item in order.items)

        async def handle(uow: UnitOfWork) -> None:
            arrange = ArrangeShipment(
                order_id=order.order_id, units=units, max_units=self._shipping_max_units
            )
            await uow.decide(Shipment, stream_id, arrange)
            shipment = await uow.load(Shipment, stream_id)
            if shipment.shipment_id is not None:
                arranged = RecordStep(
                    order_id=order.order_id,
                    step=SagaStep.ARRANGE_SHIPPING,
                    reference=shipment.shipment_id,
                )
                await _progress(uow, order.order_id, arranged)

        await self._record(step, SagaActivity.ARRANGE_SHIPPING, handle)
        # Read back rather than trust this attempt: a retry of a refused
        # shipment finds the refusal recorded and must refuse again.
        async with self._engine.connect() as conn:
            events = await self._store.read_stream(conn, stream_id)
        shipment = Shipment.initial()
        for recorded in events:
            shipment = Shipment.evolve(shipment, recorded.event)
        if shipment.refused or shipment.shipment_id is None:
            reason = f"shipping refused: the carrier takes at most {self._shipping_max_units} units"
            raise _final(BusinessFailure.SHIPPING_REFUSED, reason)
        return StepResult(reference=shipment.shipment_id)

    @activity.defn(name=SagaActivity.CONFIRM_ORDER)
    async def confirm_order(self, step: StepInput) -> StepResult:
        order_id = step.order.order_id

        async def handle(uow: UnitOfWork) -> None:
            await _progress(
                uow, order_id, RecordStep(order_id=order_id, step=SagaStep.CONFIRM_ORDER)
            )

        await self._record(step, SagaActivity.CONFIRM_ORDER, handle)
        return StepResult()

    @activity.defn(name=SagaActivity.BEGIN_COMPENSATION)
    async def begin_compensation(self, step: StepInput) -> StepResult:
        order_id = step.order.order_id
        begin = BeginCompensation(
            order_id=order_id, reason=step.reason, compensations=list(step.compensations)
        )

        async def handle(uow: UnitOfWork) -> None:
            await _progress(uow, order_id, begin)

        await self._record(step, SagaActivity.BEGIN_COMPENSATION, handle)
        return StepResult()

    @activity.defn(name=SagaActivity.RELEASE_STOCK)
    async def release_stock(self, step: StepInput) -> StepResult:
        """Release each line's reservation; lines never reserved change nothing."""
        order = step.order

        async def handle(uow: UnitOfWork) -> None:
            await uow.lock(*(StockItem.stream_id(item.product_id) for item in order.items))
            for item in order.items:
                release = ReleaseStock(product_id=item.product_id, order_id=order.order_id)
                await uow.decide(StockItem, StockItem.stream_id(item.product_id), release)
            await _compensated(uow, order.order_id, Compensation.RELEASE_STOCK)

        await self._record(step, SagaActivity.RELEASE_STOCK, handle)
        return StepResult()

    @activity.defn(name=SagaActivity.REFUND_PAYMENT)
    async def refund_payment(self, step: StepInput) -> StepResult:
        """Refund by the charge's key; the provider says when nothing was charged."""
        order_id = step.order.order_id
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

        await self._record(step, SagaActivity.REFUND_PAYMENT, handle)
        return StepResult(reference="refunded" if refunded else "nothing to refund")

    @activity.defn(name=SagaActivity.CANCEL_SHIPMENT)
    async def cancel_shipment(self, step: StepInput) -> StepResult:
        order_id = step.order.order_id

        async def handle(uow: UnitOfWork) -> None:
            await uow.decide(
                Shipment, Shipment.stream_id(order_id), CancelShipment(order_id=order_id)
            )
            await _compensated(uow, order_id, Compensation.CANCEL_SHIPMENT)

        await self._record(step, SagaActivity.CANCEL_SHIPMENT, handle)
        return StepResult()

    @activity.defn(name=SagaActivity.CLOSE_ORDER)
    async def close_order(self, step: StepInput) -> StepResult:
        order_id = step.order.order_id
        close = CloseOrder(
            order_id=order_id, outcome=step.outcome or OrderState.CANCELLED, reason=step.reason
        )

        async def handle(uow: UnitOfWork) -> None:
            await _progress(uow, order_id, close)

        await self._record(step, SagaActivity.CLOSE_ORDER, handle)
        return StepResult()

    def all(self) -> list[Callable[..., Awaitable[StepResult]]]:
        return [
            self.place_order,
            self.reserve_stock,
            self.process_payment,
            self.arrange_shipping,
            self.confirm_order,
            self.begin_compensation,
            self.release_stock,
            self.refund_payment,
            self.cancel_shipment,
            self.close_order,
        ]


async def _progress(
    uow: UnitOfWork, order_id: str, command: RecordStep | BeginCompensation | CloseOrder
) -> None:
    await uow.decide(Order, Order.stream_id(order_id), command)


async def _compensated(uow: UnitOfWork, order_id: str, compensation: Compensation) -> None:
    record = RecordCompensation(order_id=order_id, compensation=compensation)
    await uow.decide(Order, Order.stream_id(order_id), record)


def _final(kind: str, message: str) -> ApplicationError:
    return ApplicationError(message, type=kind, non_retryable=True)


def _unavailable(fault: ProviderUnavailable) -> ApplicationError:
    return ApplicationError(f"payment provider unavailable: {fault}", type="PSP_UNAVAILABLE")
