"""Event types by name and version, with upcasters for old versions."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from domain.messages import DomainEvent
from eventstore.errors import EventStoreError

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
"""Turns the payload of version N of an event into the payload of version N + 1."""


class UnknownEventType(EventStoreError):
    pass


class EventRegistry:
    """Maps stored `(type, version)` to the current event class.

    Register every event class once; when an event's schema changes, bump its
    `event_version` and register an upcaster from each older version, so
    stored events are read in their current shape and nothing is rewritten.
    """

    def __init__(
        self,
        event_types: Iterable[type[DomainEvent]] = (),
        upcasters: Iterable[tuple[str, int, Upcaster]] = (),
    ) -> None:
        self._types: dict[str, type[DomainEvent]] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}
        for event_type in event_types:
            self.register(event_type)
        for event_type_name, from_version, upcaster in upcasters:
            self.add_upcaster(event_type_name, from_version, upcaster)

    def register(self, event_type: type[DomainEvent]) -> None:
        known = self._types.get(event_type.event_type)
        if known is not None and known is not event_type:
            raise ValueError(f"two event classes are named {event_type.event_type!r}")
        self._types[event_type.event_type] = event_type

    def add_upcaster(self, event_type: str, from_version: int, upcaster: Upcaster) -> None:
        self._upcasters[(event_type, from_version)] = upcaster

    def encode(self, event: DomainEvent) -> tuple[str, int, str]:
        """The stored form of an event: type name, schema version, JSON payload."""
        return event.event_type, event.event_version, event.model_dump_json()

    def decode_json(self, event_type: str, version: int, data: str) -> DomainEvent:
        """`decode` from the stored JSON text; current versions skip the dict in between."""
        cls = self._types.get(event_type)
        if cls is not None and version == cls.event_version:
            return cls.model_validate_json(data)
        return self.decode(event_type, version, json.loads(data))

    def decode(self, event_type: str, version: int, data: dict[str, Any]) -> DomainEvent:
        cls = self._types.get(event_type)
        if cls is None:
            raise UnknownEventType(f"no event class is registered for {event_type!r}")
        if version > cls.event_version:
            raise UnknownEventType(
                f"{event_type!r} version {version} was stored by newer code than this"
                f" (which knows version {cls.event_version}): deploy that code here too"
            )
        while version < cls.event_version:
            upcaster = self._upcasters.get((event_type, version))
            if upcaster is None:
                raise UnknownEventType(f"no upcaster for {event_type!r} version {version}")
            data = upcaster(data)
            version += 1
        return cls.model_validate(data)
