"""DataLoaders, built per request so a list of N objects costs one query per relation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from strawberry.dataloader import DataLoader

from read_models import queries

V = TypeVar("V")


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


@dataclass(frozen=True)
class Loaders:
    category: DataLoader[str, RowMapping | None]
    products_by_category: DataLoader[str, list[RowMapping]]
    price_history: DataLoader[str, list[RowMapping]]
    order: DataLoader[str, RowMapping | None]
    order_items: DataLoader[str, list[RowMapping]]
    timeline: DataLoader[str, list[RowMapping]]

    @classmethod
    def for_request(cls, engine: AsyncEngine) -> Loaders:
        return cls(
            category=_batched(engine, queries.category_rows, _none),
            products_by_category=_batched(engine, queries.products_in_categories, list),
            price_history=_batched(engine, queries.price_histories, list),
            order=_batched(engine, queries.order_rows, _none),
            order_items=_batched(engine, queries.items_of_orders, list),
            timeline=_batched(engine, queries.timelines, list),
        )


def _none() -> RowMapping | None:
    return None
