"""The GraphQL schema."""

from __future__ import annotations

from graphql import GraphQLError
from strawberry import Schema
from strawberry.types import ExecutionContext

from api.errors import ErrorCodes, log_unexpected
from api.mutations import Mutation
from api.queries import Query


class ShopSchema(Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Expected errors (bad input, business refusals) are answers, not incidents.
        log_unexpected(errors)


def build_schema() -> Schema:
    return ShopSchema(query=Query, mutation=Mutation, extensions=[ErrorCodes])
