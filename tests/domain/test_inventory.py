"""Stock rules."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from domain.errors import InvalidInput
from domain.inventory import MAX_STOCK, AddStock, StockAdded, StockItem


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
