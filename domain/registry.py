"""Every event type the system has ever stored, by name."""

from __future__ import annotations

from domain.catalog import CATALOG_EVENTS
from domain.inventory import INVENTORY_EVENTS
from domain.messages import DomainEvent
from domain.orders import ORDER_EVENTS
from domain.payments import PAYMENT_EVENTS
from domain.shipping import SHIPPING_EVENTS

ALL_EVENTS: tuple[type[DomainEvent], ...] = (
    CATALOG_EVENTS + INVENTORY_EVENTS + ORDER_EVENTS + PAYMENT_EVENTS + SHIPPING_EVENTS
)
