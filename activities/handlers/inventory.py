"""Command handlers of inventory."""

from __future__ import annotations

from typing import Any

from activities.handlers.unit_of_work import UnitOfWork
from domain.catalog import Product, require_product
from domain.inventory import AddStock, StockItem


async def add_stock(uow: UnitOfWork[Any], command: AddStock) -> None:
    await uow.lock(StockItem.stream_id(command.product_id))
    product = await uow.load(Product, Product.stream_id(command.product_id))
    require_product(product, command.product_id, field="productId")
    await uow.decide(StockItem, StockItem.stream_id(command.product_id), command)
