"""The GraphQL schema."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import strawberry
from graphql import GraphQLError, GraphQLResolveInfo
from strawberry import Schema
from strawberry.extensions import ParserCache, SchemaExtension
from strawberry.extensions.tracing import OpenTelemetryExtension
from strawberry.types import ExecutionContext

from api.catalog import CatalogMutation, CatalogQuery
from api.context import Context
from api.errors import ErrorCodes, log_unexpected
from api.exposure import IntrospectionForSignedInCallers
from api.limits import GraphQLLimits, limit_extensions
from api.loaders import Loaders
from api.orders import OrderMutation, OrderQuery, OrderSubscription
from api.read_cache import ClassifyOperations
from observability.metrics import ApiMetrics, graphql_metrics_extension

PARSED_DOCUMENTS = 256
"""Distinct query texts whose parsed documents are kept (least recently used go first)."""


class CachedParsing(ParserCache):
    """Strawberry's parser cache, leaving documents that do not parse to Strawberry.

    Its parse errors then take the usual path (a response with coded errors),
    where an error raised inside an extension's hook would escape it.
    """

    def __init__(self) -> None:
        super().__init__(maxsize=PARSED_DOCUMENTS)

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.query:
            with contextlib.suppress(GraphQLError):
                context.graphql_document = self.cached_parse_document(
                    context.query, **context.parse_options
                )
        yield


class OperationTracing(OpenTelemetryExtension):
    """Spans for each operation and its phases, none per field.

    A span per resolved field would make five hundred spans for a list of a
    hundred products and cost two thirds of the request; the SQL and Temporal
    spans under the operation say where its time went.
    """

    def resolve(
        self,
        _next: Callable[..., Any],
        root: Any,
        info: GraphQLResolveInfo[Any],
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        return _next(root, info, *args, **kwargs)


class LoadersPerOperation(SchemaExtension):
    """Fresh DataLoaders for each operation.

    Over HTTP a context serves one operation, but a WebSocket's context lives
    as long as the socket: its loaders would serve stale rows and grow forever.
    """

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        if isinstance(context, Context):
            context.loaders = Loaders.for_request(context.engine)
        yield


class ShopSchema(Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Expected errors (bad input, business refusals) are answers, not incidents.
        log_unexpected(errors)


@strawberry.type
class Query(CatalogQuery, OrderQuery):
    pass


@strawberry.type
class Mutation(CatalogMutation, OrderMutation):
    pass


@strawberry.type
class Subscription(OrderSubscription):
    pass


def build_schema(
    metrics: ApiMetrics | None = None,
    *,
    limits: GraphQLLimits | None = None,
    production: bool = False,
) -> Schema:
    """The schema; with `metrics`, every operation is counted and timed.

    In `production`, only signed-in callers may introspect, and errors carry no
    suggestions (see `api.exposure`).
    """
    extensions: list[Callable[[], SchemaExtension]] = [
        # Parsing depends on the text alone. Validation is not cached: the cost
        # rule reads each operation's variables (`first: $n`).
        CachedParsing,
        *limit_extensions(limits or GraphQLLimits()),
        *([IntrospectionForSignedInCallers] if production else []),
        LoadersPerOperation,
        OperationTracing,
        ClassifyOperations,
    ]
    if metrics is not None:
        extensions.append(graphql_metrics_extension(metrics))
    # Last, so that the extensions before it see the coded errors it leaves.
    extensions.append(partial(ErrorCodes, suggestions=not production))
    return ShopSchema(
        query=Query, mutation=Mutation, subscription=Subscription, extensions=extensions
    )
