"""What production mode hides: the schema from anonymous callers, and suggestions from all.

A public API's schema is not a secret, but it is a map: production lets only
signed-in callers introspect it, and drops graphql-core's "Did you mean …?"
hints, which would otherwise spell out field and argument names to anyone
probing with typos (Apollo Server hides them the same way; `ErrorCodes` drops
them). Development keeps both.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol, runtime_checkable

from graphql import FieldNode, GraphQLError, ValidationRule
from strawberry.extensions import SchemaExtension


@runtime_checkable
class KnowsItsCaller(Protocol):
    """What this guard asks of an operation's context (`api.graphql.context.Context`)."""

    def is_signed_in(self) -> bool: ...


class NoIntrospection(ValidationRule):
    """Refuses `__schema` and `__type` (not `__typename`), with one error per document."""

    refused = False

    def enter_field(self, node: FieldNode, *_: Any) -> None:
        if node.name.value in {"__schema", "__type"} and not self.refused:
            self.refused = True
            self.report_error(
                GraphQLError(
                    "introspection is for signed-in callers: send Authorization: Bearer <token>",
                    node,
                )
            )


class IntrospectionForSignedInCallers(SchemaExtension):
    """Adds `NoIntrospection` to the rules when the caller has no valid token."""

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        if not (isinstance(context, KnowsItsCaller) and context.is_signed_in()):
            rules = self.execution_context.validation_rules
            self.execution_context.validation_rules = (*rules, NoIntrospection)
        yield
