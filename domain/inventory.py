"""Stock per product.

Stock is its own aggregate (stream `stock-<productId>`), apart from the
product, so that stock movements never contend with catalog edits.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.errors import InvalidInput
from domain.messages import Command, DomainEvent, EntityId

MAX_STOCK = 2_147_483_647
"""Stock is returned as a GraphQL `Int`, so it must fit 32 bits."""

Quantity = Annotated[int, Field(ge=1, le=1_000_000, strict=True)]


class AddStock(Command):
    kind: Literal["AddStock"] = "AddStock"
    product_id: EntityId
    quantity: Quantity


InventoryCommand = AddStock


class StockAdded(DomainEvent):
    product_id: str
    quantity: int
    level: int
    """Stock on hand after the addition, so projections need no arithmetic."""


INVENTORY_EVENTS: tuple[type[DomainEvent], ...] = (StockAdded,)


class StockState(BaseModel):
    model_config = ConfigDict(frozen=True)

    on_hand: int = 0


class StockItem:
    """The stock of one product."""

    @staticmethod
    def stream_id(product_id: str) -> str:
        return f"stock-{product_id}"

    @staticmethod
    def initial() -> StockState:
        return StockState()

    @staticmethod
    def evolve(state: StockState, event: DomainEvent) -> StockState:
        if isinstance(event, StockAdded):
            return StockState(on_hand=event.level)
        return state

    @staticmethod
    def decide(state: StockState, command: AddStock) -> list[DomainEvent]:
        level = state.on_hand + command.quantity
        if level > MAX_STOCK:
            raise InvalidInput(
                f"stock would reach {level}, above the maximum of {MAX_STOCK}", field="quantity"
            )
        return [StockAdded(product_id=command.product_id, quantity=command.quantity, level=level)]
