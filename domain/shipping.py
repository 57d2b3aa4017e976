"""Shipping: one shipment per order, which the carrier may refuse."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from domain.messages import Command, DomainEvent


class ArrangeShipment(Command):
    order_id: str
    units: int
    max_units: int
    """The carrier's limit per parcel; larger orders are refused."""


class CancelShipment(Command):
    order_id: str


class ShipmentArranged(DomainEvent):
    order_id: str
    shipment_id: str
    units: int


class ShipmentRefused(DomainEvent):
    order_id: str
    reason: str


class ShipmentCancelled(DomainEvent):
    order_id: str
    shipment_id: str


SHIPPING_EVENTS: tuple[type[DomainEvent], ...] = (
    ShipmentArranged,
    ShipmentRefused,
    ShipmentCancelled,
)


class ShipmentState(BaseModel):
    model_config = ConfigDict(frozen=True)

    shipment_id: str | None = None
    refused: bool = False
    cancelled: bool = False


class Shipment:
    """The shipment of one order."""

    @staticmethod
    def stream_id(order_id: str) -> str:
        return f"shipment-{order_id}"

    @staticmethod
    def shipment_id(order_id: str) -> str:
        return f"shp-{order_id}"

    @staticmethod
    def initial() -> ShipmentState:
        return ShipmentState()

    @staticmethod
    def evolve(state: ShipmentState, event: DomainEvent) -> ShipmentState:
        match event:
            case ShipmentArranged(shipment_id=shipment_id):
                return state.model_copy(update={"shipment_id": shipment_id})
            case ShipmentRefused():
                return state.model_copy(update={"refused": True})
            case ShipmentCancelled():
                return state.model_copy(update={"cancelled": True})
        return state

    @staticmethod
    def decide(
        state: ShipmentState, command: ArrangeShipment | CancelShipment
    ) -> list[DomainEvent]:
        """Arranging returns `ShipmentRefused` (a fact to record) when the carrier says no."""
        match command:
            case ArrangeShipment(order_id=order_id, units=units, max_units=max_units):
                if state.shipment_id is not None or state.refused:
                    return []
                if units > max_units:
                    reason = f"the carrier takes at most {max_units} units, the order has {units}"
                    return [ShipmentRefused(order_id=order_id, reason=reason)]
                return [
                    ShipmentArranged(
                        order_id=order_id, shipment_id=Shipment.shipment_id(order_id), units=units
                    )
                ]
            case CancelShipment(order_id=order_id):
                if state.shipment_id is None or state.cancelled:
                    return []
                return [ShipmentCancelled(order_id=order_id, shipment_id=state.shipment_id)]
        raise TypeError(f"Shipment cannot decide {type(command).__name__}")
