"""What a request may ask for: GraphQL depth, aliases, tokens, cost, body size and clean text.

Every limit is checked before execution and costs no SQL; a refusal is a
VALIDATION error whose message names the limit.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from graphql import DocumentNode, GraphQLError, StringValueNode, Visitor, visit
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import (
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)

from api.cost import QueryCost
from api.pagination import MAX_PAGE

_ALLOWED_CONTROLS = {"\t", "\n", "\r"}


@dataclass(frozen=True)
class GraphQLLimits:
    max_depth: int = 10
    max_aliases: int = 30
    max_tokens: int = 2000
    max_cost: int = 20_000


def limit_extensions(limits: GraphQLLimits) -> list[Callable[[], SchemaExtension]]:
    """Strawberry's own limiters (aliases are counted through fragments too), and ours."""
    return [
        partial(MaxTokensLimiter, max_token_count=limits.max_tokens),
        partial(QueryDepthLimiter, max_depth=limits.max_depth),
        partial(MaxAliasesLimiter, max_alias_count=limits.max_aliases),
        partial(QueryCost, budget=limits.max_cost, unbounded_list=MAX_PAGE),
        CleanText,
    ]


def control_character(text: str) -> str | None:
    """The first control character in `text` (tabs and line breaks aside), if any."""
    for char in text:
        if char not in _ALLOWED_CONTROLS and unicodedata.category(char) == "Cc":
            return char
    return None


class CleanText(SchemaExtension):
    """Refuses NUL and other control characters anywhere in a request, before it runs.

    PostgreSQL cannot store NUL in text or JSON; one that reached a command or a
    saga would fail there, late and deep, instead of here, at once.
    """

    def on_validate(self) -> Iterator[None]:
        # Before the validation rules run: an error set here ends the request there.
        context = self.execution_context
        where = _in_values(context.variables or {}, "variables") or _in_document(
            context.graphql_document
        )
        if where is not None:
            error = GraphQLError(f"text may not contain control characters ({where})")
            context.pre_execution_errors = [error]
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


def _in_document(document: DocumentNode | None) -> str | None:
    if document is None:
        return None
    found: list[str] = []

    class FindControls(Visitor):
        def enter_string_value(self, node: StringValueNode, *_: Any) -> None:
            if control_character(node.value) is not None:
                found.append("a string in the query")

    visit(document, FindControls())
    return found[0] if found else None


class BodySizeLimit:
    """Answers 413 to a request body over `max_bytes`, before anything parses it."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await _too_large(send, self.max_bytes)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except _BodyTooLarge:
            await _too_large(send, self.max_bytes)


class _BodyTooLarge(Exception):
    pass


async def _too_large(send: Send, max_bytes: int) -> None:
    body = (
        b'{"errors": [{"message": "the request body is over the limit of '
        + str(max_bytes).encode()
        + b' bytes", "extensions": {"code": "VALIDATION"}}]}'
    )
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})
