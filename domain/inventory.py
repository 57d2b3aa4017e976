"""Stock per product.

Stock is its own aggregate (stream `stock-<productId>`), apart from the
product, so that stock movements never contend with catalog edits.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.errors import DomainError, ErrorCode, InvalidInput
from domain.messages import Command, DomainEvent, EntityId
from domain.snapshots import SnapshotPolicy

MAX_STOCK = 2_147_483_647
"""Stock is returned as a GraphQL `Int`, so it must fit 32 bits."""

Quantity = Annotated[int, Field(ge=1, le=1_000_000, strict=True)]


class AddStock(Command):
    kind: Literal["AddStock"] = "AddStock"
    product_id: EntityId
    quantity: Quantity


class ReserveStock(Command):
    """Hold `quantity` units of a product for an order (one reservation per order)."""

    product_id: str
    order_id: str
    quantity: int


class ReleaseStock(Command):
    """Give an order's reservation back; releasing what is not held changes nothing."""

    product_id: str
    order_id: str


class SettleStock(Command):
    """An order was confirmed: its reservation became a sale and is no longer held.

    The stock level does not change (the units left when they were reserved);
    the state stops remembering the order, so it stays as small as the orders
    in flight, however many were ever placed. Settling what is not held
    changes nothing.
    """

    product_id: str
    order_id: str


class OutOfStock(DomainError):
    code = ErrorCode.OUT_OF_STOCK


class StockAdded(DomainEvent):
    product_id: str
    quantity: int
    level: int
    """Stock available after the change, so projections need no arithmetic."""


class StockReserved(DomainEvent):
    product_id: str
    order_id: str
    quantity: int
    level: int


class StockReleased(DomainEvent):
    product_id: str
    order_id: str
    quantity: int
    level: int


class StockSettled(DomainEvent):
    product_id: str
    order_id: str
    quantity: int
    level: int
    """Unchanged: the units were taken off when they were reserved."""


INVENTORY_EVENTS: tuple[type[DomainEvent], ...] = (
    StockAdded,
    StockReserved,
    StockReleased,
    StockSettled,
)


class StockState(BaseModel):
    model_config = ConfigDict(frozen=True)

    on_hand: int = 0
    """Units available to reserve; never negative."""
    reservations: dict[str, int] = {}
    """Units held per order not yet confirmed or released."""


class StockItem:
    """The stock of one product.

    Its stream grows with every order of the product, so loading starts from
    a snapshot (`domain.snapshots`).
    """

    snapshots: ClassVar[SnapshotPolicy[StockState]] = SnapshotPolicy(StockState, schema_version=1)

    @staticmethod
    def stream_id(product_id: str) -> str:
        return f"stock-{product_id}"

    @staticmethod
    def initial() -> StockState:
        return StockState()

    @staticmethod
    def evolve(state: StockState, event: DomainEvent) -> StockState:
        match event:
            case StockAdded(level=level):
                return state.model_copy(update={"on_hand": level})
            case StockReserved(order_id=order_id, quantity=quantity, level=level):
                reservations = {**state.reservations, order_id: quantity}
                return StockState(on_hand=level, reservations=reservations)
            case (
                StockReleased(order_id=order_id, level=level)
                | StockSettled(order_id=order_id, level=level)
            ):
                reservations = {k: v for k, v in state.reservations.items() if k != order_id}
                return StockState(on_hand=level, reservations=reservations)
        return state

    @staticmethod
    def decide(
        state: StockState, command: AddStock | ReserveStock | ReleaseStock | SettleStock
    ) -> list[DomainEvent]:
        match command:
            case AddStock(product_id=product_id, quantity=quantity):
                level = state.on_hand + quantity
                if level > MAX_STOCK:
                    raise InvalidInput(
                        f"stock would reach {level}, above the maximum of {MAX_STOCK}",
                        field="quantity",
                    )
                return [StockAdded(product_id=product_id, quantity=quantity, level=level)]
            case ReserveStock(product_id=product_id, order_id=order_id, quantity=quantity):
                if order_id in state.reservations:
                    return []
                if quantity > state.on_hand:
                    raise OutOfStock(
                        f"product {product_id} has {state.on_hand} in stock, {quantity} wanted",
                        field="items",
                    )
                level = state.on_hand - quantity
                return [
                    StockReserved(
                        product_id=product_id, order_id=order_id, quantity=quantity, level=level
                    )
                ]
            case ReleaseStock(product_id=product_id, order_id=order_id):
                held = state.reservations.get(order_id)
                if held is None:
                    return []
                level = state.on_hand + held
                return [
                    StockReleased(
                        product_id=product_id, order_id=order_id, quantity=held, level=level
                    )
                ]
            case SettleStock(product_id=product_id, order_id=order_id):
                held = state.reservations.get(order_id)
                if held is None:
                    return []
                return [
                    StockSettled(
                        product_id=product_id,
                        order_id=order_id,
                        quantity=held,
                        level=state.on_hand,
                    )
                ]
        raise TypeError(f"StockItem cannot decide {type(command).__name__}")
