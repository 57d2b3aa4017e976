"""The GraphQL schema."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry
from graphql import GraphQLError, GraphQLResolveInfo
from strawberry import Schema
from strawberry.extensions import SchemaExtension
from strawberry.extensions.tracing import OpenTelemetryExtension
from strawberry.types import ExecutionContext

from api.catalog import CatalogMutation, CatalogQuery
from api.errors import ErrorCodes, log_unexpected
from api.orders import OrderMutation, OrderQuery, OrderSubscription
from observability.metrics import ApiMetrics, graphql_metrics_extension


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


def build_schema(metrics: ApiMetrics | None = None) -> Schema:
    """The schema; with `metrics`, every operation is counted and timed."""
    extensions: list[type[SchemaExtension]] = [OperationTracing]
    if metrics is not None:
        extensions.append(graphql_metrics_extension(metrics))
    # Last, so that the extensions before it see the coded errors it leaves.
    extensions.append(ErrorCodes)
    return ShopSchema(
        query=Query, mutation=Mutation, subscription=Subscription, extensions=extensions
    )
