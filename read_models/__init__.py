"""Query models projected from events, and the projections that build them.

Each projection is one function of `(connection, event)`; the same function
runs inline in a command's transaction and in the projector's rebuilds.
"""

from read_models.catalog import CATEGORIES, PRODUCTS
from read_models.order_timeline import ORDER_TIMELINE
from read_models.orders import ORDERS
from read_models.price_history import PRICE_HISTORY
from read_models.projection import Projection

PROJECTIONS: tuple[Projection, ...] = (CATEGORIES, PRODUCTS, ORDERS, PRICE_HISTORY, ORDER_TIMELINE)
"""Every projection, by the order in which a full rebuild runs them."""

INLINE_PROJECTIONS = tuple(p for p in PROJECTIONS if p.inline)
ASYNC_PROJECTIONS = tuple(p for p in PROJECTIONS if not p.inline)


def projection_named(name: str) -> Projection:
    for projection in PROJECTIONS:
        if projection.name == name:
            return projection
    known = ", ".join(p.name for p in PROJECTIONS)
    raise KeyError(f"no projection named {name!r} (known: {known})")


__all__ = [
    "ASYNC_PROJECTIONS",
    "INLINE_PROJECTIONS",
    "PROJECTIONS",
    "Projection",
    "projection_named",
]
