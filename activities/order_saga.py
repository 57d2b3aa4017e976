"""The order saga's activities: one per step and per compensation.

Each calls the outside world where its step does (the payment provider), then
runs its handler (`activities.handlers.order_saga`) in one unit of work, and
answers in Temporal's terms: a refusal is a non-retryable `ApplicationError`
named by its `Refusal`. Command ids are derived from the order and the
activity, so Temporal's at-least-once execution changes nothing twice; the
payment provider gets an idempotency key derived the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any, TypeVar

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.handlers import order_saga as handlers
from activities.handlers.unit_of_work import Aggregate, Handler, load_aggregate, run_in_unit_of_work
from domain.errors import DomainError
from domain.fraud import HELD_FOR_REVIEW
from domain.inventory import OutOfStock
from domain.orders import BeginCompensation, CloseOrder, Order
from domain.payments import RecordCharge, RecordDecline, payment_key
from domain.saga import Refusal
from domain.shipping import ArrangeShipment, Shipment
from eventstore import EventMetadata, FollowedEventStore
from observability.tracing import trace_context
from psp.client import ChargeDeclined, PaymentProvider, ProviderUnavailable
from read_models import Projection
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

S = TypeVar("S")


class SagaActivities(OrderSagaActivities):
    """Built once per worker with its resources; Temporal calls the methods.

    Each method implements the declaration it overrides in `OrderSagaActivities`.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        store: FollowedEventStore,
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

    async def _in_unit_of_work(
        self, call: SagaCall, handler: Handler, *, name: str | None = None
    ) -> None:
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
        await self._in_unit_of_work(call, partial(handlers.record_progress, command=call.order))
        return StepResult()

    @activity.defn
    async def reserve_stock(self, call: StockInput) -> StepResult:
        """Reserve every line or none (one transaction); OUT_OF_STOCK is final."""
        quantities = {line.product_id: line.quantity for line in call.lines}
        await self._in_unit_of_work(
            call, partial(handlers.reserve_stock, order_id=call.order_id, quantities=quantities)
        )
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
        check = partial(
            handlers.check_fraud,
            order_id=order_id,
            customer_id=call.customer_id,
            amount=call.amount,
            review_above=self._fraud_review_above,
        )
        await self._in_unit_of_work(call, check)
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
            await self._in_unit_of_work(
                call, partial(handlers.record_decline, decline=decline), name="payment_declined"
            )
            reason = f"payment declined: {declined.reason}"
            raise _final(Refusal.PAYMENT_DECLINED, reason) from None
        except ProviderUnavailable as fault:
            # Retried by the activity's retry policy until the payment deadline.
            raise _unavailable(fault) from None
        captured = RecordCharge(order_id=order_id, charge_id=charge.charge_id, amount=charge.amount)
        await self._in_unit_of_work(call, partial(handlers.record_charge, charge=captured))
        return StepResult(reference=charge.charge_id)

    @activity.defn
    async def arrange_shipping(self, call: ShipmentInput) -> StepResult:
        """Book the shipment; the carrier's refusal is recorded, then final."""
        order_id = call.order_id
        arrange = ArrangeShipment(
            order_id=order_id, units=call.units, max_units=self._shipping_max_units
        )
        await self._in_unit_of_work(call, partial(handlers.arrange_shipment, arrange=arrange))
        # Read back rather than trust this attempt: a retry of a refused
        # shipment finds the refusal recorded and must refuse again.
        shipment = await self._read_back(call, Shipment, Shipment.stream_id(order_id))
        if shipment.refused or shipment.shipment_id is None:
            reason = f"shipping refused: the carrier takes at most {self._shipping_max_units} units"
            raise _final(Refusal.SHIPPING_REFUSED, reason)
        return StepResult(reference=shipment.shipment_id)

    @activity.defn
    async def confirm_order(self, call: SagaCall) -> StepResult:
        """Confirm the order and settle its reservations into sales, in one transaction."""
        await self._in_unit_of_work(call, partial(handlers.confirm_order, order_id=call.order_id))
        return StepResult()

    @activity.defn
    async def begin_compensation(self, call: BeginCompensationInput) -> StepResult:
        begin = BeginCompensation(
            order_id=call.order_id, reason=call.reason, compensations=list(call.compensations)
        )
        await self._in_unit_of_work(call, partial(handlers.record_progress, command=begin))
        return StepResult()

    @activity.defn
    async def release_stock(self, call: StockInput) -> StepResult:
        """Release each line's reservation; lines never reserved change nothing."""
        products = [line.product_id for line in call.lines]
        await self._in_unit_of_work(
            call, partial(handlers.release_stock, order_id=call.order_id, products=products)
        )
        return StepResult()

    @activity.defn
    async def refund_payment(self, call: SagaCall) -> StepResult:
        """Refund by the charge's key; the provider says when nothing was charged."""
        order_id = call.order_id
        try:
            refunded = await self._provider.refund(key=payment_key(order_id))
        except ProviderUnavailable as fault:
            raise _unavailable(fault) from None
        await self._in_unit_of_work(
            call, partial(handlers.record_refund, order_id=order_id, refunded=refunded)
        )
        return StepResult(reference="refunded" if refunded else "nothing to refund")

    @activity.defn
    async def cancel_shipment(self, call: SagaCall) -> StepResult:
        await self._in_unit_of_work(call, partial(handlers.cancel_shipment, order_id=call.order_id))
        return StepResult()

    @activity.defn
    async def close_order(self, call: CloseOrderInput) -> StepResult:
        close = CloseOrder(order_id=call.order_id, outcome=call.outcome, reason=call.reason)
        await self._in_unit_of_work(call, partial(handlers.record_progress, command=close))
        return StepResult()


def _final(kind: str, message: str) -> ApplicationError:
    return ApplicationError(message, type=kind, non_retryable=True)


def _unavailable(fault: ProviderUnavailable) -> ApplicationError:
    return ApplicationError(f"payment provider unavailable: {fault}", type="PSP_UNAVAILABLE")
