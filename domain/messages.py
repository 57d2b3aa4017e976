"""Base classes for commands and events.

Both are frozen pydantic models, so they are immutable, validated on
construction and serialisable without a second schema anywhere else.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
)


def _printable(text: str) -> str:
    """Refuse control characters and invisible format characters (bidi overrides, zero-width)."""
    for char in text:
        if unicodedata.category(char) in ("Cc", "Cf"):
            raise ValueError(f"may not contain the invisible character U+{ord(char):04X}")
    return text


def _plain(text: str) -> str:
    """Refuse control characters other than tabs and line breaks (PostgreSQL cannot store NUL)."""
    for char in text:
        if char not in "\t\n\r" and unicodedata.category(char) == "Cc":
            raise ValueError(f"may not contain the control character U+{ord(char):04X}")
    return text


def _name(text: str) -> str:
    """One spelling per name: compatibility forms (full-width letters, ligatures) folded."""
    folded = unicodedata.normalize("NFKC", text).strip()
    if not 1 <= len(folded) <= 200:
        raise ValueError("must have 1 to 200 characters")
    return _printable(folded)


Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_name),
]
"""A display name: NFKC-normalised, trimmed, then 1 to 200 visible characters."""

Text = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=500), AfterValidator(_plain)
]
"""Free text (a reason): at most 500 characters, no control characters but line breaks."""

EntityId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    AfterValidator(_printable),
]

Yen = Annotated[int, Field(ge=0, le=100_000_000, strict=True)]
"""A price in whole yen (the currency has no minor unit)."""

Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
"""An ISO 4217 currency code."""

SHOP_CURRENCY = "JPY"
"""The currency of every price and total: the shop sells in yen."""


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
