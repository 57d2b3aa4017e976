"""DataLoaders, built per request so a list of N objects costs one query per relation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from strawberry.dataloader import DataLoader

from read_models import queries
from read_models.queries import LogPosition

V = TypeVar("V")
C = TypeVar("C", bound=Hashable)

Page = list[RowMapping]
PageKey = tuple[str, int, C | None]
"""Whose page (a category, a product, an order), how many rows (`first`), and after what."""


def _batched(
    engine: AsyncEngine,
    fetch: Callable[[AsyncConnection, Sequence[str]], Awaitable[Mapping[str, V]]],
    default: Callable[[], V],
) -> DataLoader[str, V]:
    async def load(keys: list[str]) -> list[V]:
        async with engine.connect() as conn:
            found = await fetch(conn, keys)
        return [found[key] if key in found else default() for key in keys]

    return DataLoader(load_fn=load)


def _paged(
    engine: AsyncEngine, fetch: Callable[..., Awaitable[Mapping[str, Page | Exception]]]
) -> DataLoader[PageKey[Any], Page]:
    """One statement per distinct (`first`, `after`) in a batch: a list of N parents
    asking for the same page of their children costs one query."""

    async def load(keys: list[PageKey[Any]]) -> list[Page | Exception]:
        owners: dict[tuple[int, Any], list[str]] = {}
        for owner, first, after in keys:
            owners.setdefault((first, after), []).append(owner)
        pages: dict[PageKey[Any], Page | Exception] = {}
        async with engine.connect() as conn:
            for (first, after), ids in owners.items():
                found = await fetch(conn, ids, first=first, after=after)
                pages.update({(owner, first, after): found[owner] for owner in ids})
        return [pages[key] for key in keys]

    return DataLoader(load_fn=load)


@dataclass(frozen=True)
class Loaders:
    category: DataLoader[str, RowMapping | None]
    products_by_category: DataLoader[PageKey[str], Page]
    price_history: DataLoader[PageKey[LogPosition], Page]
    order: DataLoader[str, RowMapping | None]
    order_items: DataLoader[str, list[RowMapping]]
    timeline: DataLoader[PageKey[LogPosition], Page]

    @classmethod
    def for_request(cls, engine: AsyncEngine) -> Loaders:
        return cls(
            category=_batched(engine, queries.category_rows, _none),
            products_by_category=_paged(engine, queries.products_in_categories),
            price_history=_paged(engine, queries.price_histories),
            order=_batched(engine, queries.order_rows, _none),
            order_items=_batched(engine, queries.items_of_orders, list),
            timeline=_paged(engine, queries.timelines),
        )


def _none() -> RowMapping | None:
    return None
