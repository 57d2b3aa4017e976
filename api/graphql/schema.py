"""The GraphQL schema."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial

import strawberry
from graphql import GraphQLError
from strawberry import Schema
from strawberry.extensions import SchemaExtension
from strawberry.extensions.tracing import OpenTelemetryExtension
from strawberry.types import ExecutionContext

from api.errors import ErrorCodes, log_unexpected
from api.graphql.catalog import CatalogMutation, CatalogQuery
from api.graphql.context import Context
from api.graphql.orders import OrderMutation, OrderQuery, OrderSubscription
from api.guards.introspection import IntrospectionForSignedInCallers
from api.guards.limits import GraphQLLimits, limit_extensions
from api.guards.parse_cache import CachedParsing, CachedValidation
from api.guards.persisted_documents import PersistedDocuments, PersistedDocumentsGuard
from api.guards.read_cache import ClassifyOperations
from observability.metrics import ApiMetrics, graphql_metrics_extension


class OperationTracing(OpenTelemetryExtension):
    """Spans for each operation and its phases, none per field.

    A span per resolved field would make five hundred spans for a list of a
    hundred products and cost two thirds of the request; the SQL and Temporal
    spans under the operation say where its time went. Not even a pass-through
    `resolve`: any extension that has one puts a Python call in front of every
    field, where Strawberry otherwise reads plain attributes directly.
    """

    resolve = SchemaExtension.resolve  # type: ignore[assignment]


class LoadersPerOperation(SchemaExtension):
    """Fresh DataLoaders for each operation.

    Over HTTP a context serves one operation, but a WebSocket's context lives
    as long as the socket: its loaders would serve stale rows and grow forever.
    """

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        if isinstance(context, Context):
            context.loaders = context.fresh_loaders()
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
    documents: PersistedDocuments | None = None,
) -> Schema:
    """The schema; with `metrics`, every operation is counted and timed.

    With `documents`, requests may send documents by hash, and only trusted ones
    run if it holds a manifest (see `api.guards.persisted_documents`).

    In `production`, only signed-in callers may introspect, and errors carry no
    suggestions (see `api.guards.introspection`).
    """
    extensions: list[Callable[[], SchemaExtension]] = [
        # First: every extension after it sees the text a hash stands for.
        *([partial(PersistedDocumentsGuard, documents=documents)] if documents else []),
        # Documents are parsed, and validated, once (see `api.guards.parse_cache`); the
        # limits before validation keep hostile ones from being either.
        CachedParsing,
        *limit_extensions(limits or GraphQLLimits()),
        *([IntrospectionForSignedInCallers] if production else []),
        CachedValidation,
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
