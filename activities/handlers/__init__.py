"""Command handlers: each loads aggregates, lets them decide, and records the decisions.

A handler is a function of a unit of work (`unit_of_work.UnitOfWork`) and one
message, two to six lines, with no Temporal in it: the activities beside this
package (`activities.command`, `activities.order_saga`) run handlers in a unit
of work and turn what they answer into Temporal's terms.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from activities.handlers import catalog, inventory
from activities.handlers.unit_of_work import UnitOfWork
from domain.catalog import (
    CreateCategory,
    CreateProduct,
    DeleteCategory,
    DeleteProduct,
    RenameCategory,
    UpdateProduct,
)
from domain.inventory import AddStock
from domain.messages import Command

COMMAND_HANDLERS: dict[type[Command], Callable[[UnitOfWork[Any], Any], Awaitable[None]]] = {
    CreateCategory: catalog.create_category,
    RenameCategory: catalog.rename_category,
    DeleteCategory: catalog.delete_category,
    CreateProduct: catalog.create_product,
    UpdateProduct: catalog.update_product,
    DeleteProduct: catalog.delete_product,
    AddStock: inventory.add_stock,
}
"""The handler of each command the API sends (through `CommandWorkflow`)."""
