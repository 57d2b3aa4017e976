"""The GraphQL schema."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry import Schema
from strawberry.extensions import SchemaExtension
from strawberry.extensions.tracing import OpenTelemetryExtension
from strawberry.types import ExecutionContext

from api.errors import ErrorCodes, log_unexpected
from api.mutations import CatalogMutation
from api.order_schema import OrderMutation, OrderQuery, OrderSubscription
from api.queries import CatalogQuery
from observability.metrics import ApiMetrics, graphql_metrics_extension


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
    extensions: list[type[SchemaExtension]] = [OpenTelemetryExtension]
    if metrics is not None:
        extensions.append(graphql_metrics_extension(metrics))
    # Last, so that the extensions before it see the coded errors it leaves.
    extensions.append(ErrorCodes)
    return ShopSchema(
        query=Query, mutation=Mutation, subscription=Subscription, extensions=extensions
    )
