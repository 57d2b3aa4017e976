"""What an operation may ask for: GraphQL depth, aliases, tokens, cost and clean text.

Every limit is checked before execution and costs no SQL; a refusal is a
VALIDATION error whose message names the limit.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from graphql import (
    DocumentNode,
    FloatValueNode,
    GraphQLError,
    IntValueNode,
    StringValueNode,
    Visitor,
    visit,
)
from strawberry.extensions import (
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)

from api.guards.cost import MAX_PAGE, QueryCost, expanded_fields

_ALLOWED_CONTROLS = {"\t", "\n", "\r"}


@dataclass(frozen=True)
class GraphQLLimits:
    max_depth: int = 10
    max_aliases: int = 30
    max_tokens: int = 2000
    max_cost: int = 20_000
    max_fields: int = 5_000


def limit_extensions(limits: GraphQLLimits) -> list[Callable[[], SchemaExtension]]:
    """Strawberry's own limiters (aliases are counted through fragments too), and ours."""
    return [
        partial(MaxTokensLimiter, max_token_count=limits.max_tokens),
        partial(ExpansionLimit, max_fields=limits.max_fields),
        partial(QueryDepthLimiter, max_depth=limits.max_depth),
        partial(MaxAliasesLimiter, max_alias_count=limits.max_aliases),
        partial(QueryCost, budget=limits.max_cost, unbounded_list=MAX_PAGE),
        CleanText,
    ]


MAX_NUMBER_LENGTH = 20
"""Characters in a number literal: more than any Int or Float the schema takes."""


class ExpansionLimit(SchemaExtension):
    """Refuses a document whose fragments expand past `max_fields` fields, before any
    validation rule walks it.

    Thirty fragments that each spread the next one twice are a few hundred tokens
    and a billion fields: every rule that expands fragments as it goes (Strawberry's
    depth and alias limiters among them) would hold the event loop for hours.
    """

    def __init__(self, *, max_fields: int) -> None:
        self.max_fields = max_fields

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        fields = 0 if document is None else expanded_fields(document)
        if fields > self.max_fields:
            error = GraphQLError(
                f"the query holds {fields:,} fields once its fragments are expanded, over "
                f"the limit of {self.max_fields:,}"
            )
            context.pre_execution_errors = [*(context.pre_execution_errors or []), error]
        yield


def control_character(text: str) -> str | None:
    """The first control character in `text` (tabs and line breaks aside), if any."""
    for char in text:
        if char not in _ALLOWED_CONTROLS and unicodedata.category(char) == "Cc":
            return char
    return None


class CleanText(SchemaExtension):
    """Refuses NUL and other control characters anywhere in a request, and number literals
    of more than `MAX_NUMBER_LENGTH` characters, before it runs (one walk of the document).

    PostgreSQL cannot store NUL in text or JSON; one that reached a command or a
    saga would fail there, late and deep, instead of here, at once. Python reads an
    integer of thousands of digits only with an error, which graphql-core's
    coercion would meet deep in validation.
    """

    def on_validate(self) -> Iterator[None]:
        # Before the validation rules run: an error set here ends the request there.
        context = self.execution_context
        in_document, long_number = _scan_literals(context.graphql_document)
        where = _in_values(context.variables or {}, "variables") or in_document
        errors = []
        if where is not None:
            errors.append(GraphQLError(f"text may not contain control characters ({where})"))
        if long_number:
            errors.append(
                GraphQLError(
                    f"numbers may have at most {MAX_NUMBER_LENGTH} characters "
                    "(a number in the query)"
                )
            )
        if errors:
            context.pre_execution_errors = [*(context.pre_execution_errors or []), *errors]
        yield


def _in_values(value: Any, path: str) -> str | None:
    if isinstance(value, str):
        return path if control_character(value) is not None else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _in_values(str(key), path) or _in_values(item, f"{path}.{key}")
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _in_values(item, f"{path}[{index}]")
            if found:
                return found
    return None


def _scan_literals(document: DocumentNode | None) -> tuple[str | None, bool]:
    """Whether a string literal holds a control character, and a number literal is too long."""
    controls: list[str] = []
    long_numbers: list[bool] = []

    class FindBadLiterals(Visitor):
        def enter_string_value(self, node: StringValueNode, *_: Any) -> None:
            if control_character(node.value) is not None:
                controls.append("a string in the query")

        def enter_int_value(self, node: IntValueNode, *_: Any) -> None:
            long_numbers.append(len(node.value) > MAX_NUMBER_LENGTH)

        def enter_float_value(self, node: FloatValueNode, *_: Any) -> None:
            long_numbers.append(len(node.value) > MAX_NUMBER_LENGTH)

    if document is not None:
        visit(document, FindBadLiterals())
    return (controls[0] if controls else None), any(long_numbers)
