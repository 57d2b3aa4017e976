"""Base classes for commands and events.

Both are frozen pydantic models, so they are immutable, validated on
construction and serialisable without a second schema anywhere else.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
"""A display name: surrounding white space is trimmed, then 1 to 200 characters remain."""

EntityId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]

Yen = Annotated[int, Field(ge=0, le=100_000_000, strict=True)]
"""A price in whole yen (the currency has no minor unit)."""


class Command(BaseModel):
    """An intention, named in the imperative (`CreateCategory`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class DomainEvent(BaseModel):
    """A fact, named in the past tense (`CategoryCreated`).

    `event_type` and `event_version` identify the stored schema; bump the
    version and register an upcaster when a field changes meaning.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str]
    event_version: ClassVar[int] = 1

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if "event_type" not in cls.__dict__:
            cls.event_type = cls.__name__
