"""Stock rules."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from domain.errors import InvalidInput
from domain.inventory import (
    MAX_STOCK,
    AddStock,
    ReleaseStock,
    SettleStock,
    StockAdded,
    StockItem,
    StockReserved,
    StockSettled,
    StockState,
)


def test_adding_stock_records_the_new_level():
    state = StockItem.evolve(StockItem.initial(), StockAdded(product_id="p1", quantity=5, level=5))
    assert StockItem.decide(state, AddStock(product_id="p1", quantity=3)) == [
        StockAdded(product_id="p1", quantity=3, level=8)
    ]


@pytest.mark.parametrize("quantity", [0, -1, 1_000_001, 2.5, "3"])
def test_quantities_are_whole_positive_numbers(quantity):
    with pytest.raises(ValidationError) as error:
        AddStock(product_id="p1", quantity=quantity)
    assert error.value.errors()[0]["loc"] == ("quantity",)


def test_stock_never_exceeds_what_a_graphql_int_holds():
    full = StockItem.evolve(
        StockItem.initial(), StockAdded(product_id="p1", quantity=1, level=MAX_STOCK)
    )
    with pytest.raises(InvalidInput) as error:
        StockItem.decide(full, AddStock(product_id="p1", quantity=1))
    assert error.value.field == "quantity"


def test_a_confirmed_orders_reservation_is_settled_and_forgotten_without_changing_the_level():
    state = StockItem.initial()
    for event in (
        StockAdded(product_id="p1", quantity=5, level=5),
        StockReserved(product_id="p1", order_id="o1", quantity=2, level=3),
    ):
        state = StockItem.evolve(state, event)
    settled = StockItem.decide(state, SettleStock(product_id="p1", order_id="o1"))
    assert settled == [StockSettled(product_id="p1", order_id="o1", quantity=2, level=3)]
    after = StockItem.evolve(state, settled[0])
    assert after == StockState(on_hand=3, reservations={})
    # Settled once; settling or releasing it again changes nothing.
    assert StockItem.decide(after, SettleStock(product_id="p1", order_id="o1")) == []
    assert StockItem.decide(after, ReleaseStock(product_id="p1", order_id="o1")) == []
