"""Every event type the system has ever stored, by name."""

from __future__ import annotations

from domain.catalog import CATALOG_EVENTS
from domain.inventory import INVENTORY_EVENTS
from domain.messages import DomainEvent

ALL_EVENTS: tuple[type[DomainEvent], ...] = CATALOG_EVENTS + INVENTORY_EVENTS
