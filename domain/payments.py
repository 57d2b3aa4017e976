"""Payments: a charge per order through the payment provider, and its refund.

The provider is outside our transaction, so the stream records what it
answered; the idempotency key (derived from the order) ties both together.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from domain.messages import Command, DomainEvent


def payment_key(order_id: str) -> str:
    """The provider's idempotency key for an order's one charge."""
    return f"order-{order_id}-payment"


class RecordCharge(Command):
    order_id: str
    charge_id: str
    amount: int


class RecordDecline(Command):
    order_id: str
    amount: int
    reason: str


class RecordRefund(Command):
    order_id: str


class PaymentCaptured(DomainEvent):
    order_id: str
    charge_id: str
    amount: int
    idempotency_key: str


class PaymentDeclined(DomainEvent):
    order_id: str
    amount: int
    reason: str


class PaymentRefunded(DomainEvent):
    order_id: str
    charge_id: str
    amount: int


PAYMENT_EVENTS: tuple[type[DomainEvent], ...] = (PaymentCaptured, PaymentDeclined, PaymentRefunded)


class PaymentState(BaseModel):
    model_config = ConfigDict(frozen=True)

    charge_id: str | None = None
    amount: int = 0
    declined: bool = False
    refunded: bool = False


class Payment:
    """The payment of one order."""

    @staticmethod
    def stream_id(order_id: str) -> str:
        return f"payment-{order_id}"

    @staticmethod
    def initial() -> PaymentState:
        return PaymentState()

    @staticmethod
    def evolve(state: PaymentState, event: DomainEvent) -> PaymentState:
        match event:
            case PaymentCaptured(charge_id=charge_id, amount=amount):
                return state.model_copy(update={"charge_id": charge_id, "amount": amount})
            case PaymentDeclined():
                return state.model_copy(update={"declined": True})
            case PaymentRefunded():
                return state.model_copy(update={"refunded": True})
        return state

    @staticmethod
    def decide(
        state: PaymentState, command: RecordCharge | RecordDecline | RecordRefund
    ) -> list[DomainEvent]:
        match command:
            case RecordCharge(order_id=order_id, charge_id=charge_id, amount=amount):
                if state.charge_id is not None:
                    return []
                return [
                    PaymentCaptured(
                        order_id=order_id,
                        charge_id=charge_id,
                        amount=amount,
                        idempotency_key=payment_key(order_id),
                    )
                ]
            case RecordDecline(order_id=order_id, amount=amount, reason=reason):
                if state.declined or state.charge_id is not None:
                    return []
                return [PaymentDeclined(order_id=order_id, amount=amount, reason=reason)]
            case RecordRefund(order_id=order_id):
                if state.charge_id is None or state.refunded:
                    return []
                return [
                    PaymentRefunded(
                        order_id=order_id, charge_id=state.charge_id, amount=state.amount
                    )
                ]
        raise TypeError(f"Payment cannot decide {type(command).__name__}")
