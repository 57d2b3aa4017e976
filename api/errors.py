"""One error shape for every client: `message`, `extensions.code`, `extensions.field`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import structlog
from graphql import ArgumentNode, DocumentNode, GraphQLError, ObjectFieldNode, Visitor, visit
from pydantic import ValidationError
from strawberry.extensions import SchemaExtension
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError, RPCStatusCode

from domain.errors import DomainError, ErrorCode

log = structlog.get_logger(__name__)


class ApiError(Exception):
    """An error the client should see as it is."""

    def __init__(self, code: ErrorCode, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


_UNAVAILABLE = {RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED}


def unavailable_or_internal(error: Exception) -> ErrorCode:
    """UNAVAILABLE when Temporal could not be reached or did not answer in time (retrying
    later will do), INTERNAL for anything else."""
    if isinstance(error, WorkflowUpdateRPCTimeoutOrCancelledError):
        return ErrorCode.UNAVAILABLE
    if isinstance(error, RPCError) and error.status in _UNAVAILABLE:
        return ErrorCode.UNAVAILABLE
    return ErrorCode.INTERNAL


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def invalid_input(error: ValidationError, *, default_field: str | None = None) -> ApiError:
    """The first problem pydantic found, named by its GraphQL field path (`items.0.quantity`).

    `default_field` names the input when the problem is with the whole of it.
    """
    first = error.errors()[0]
    field = ".".join(camel(str(part)) for part in first["loc"] if part != "kind")
    message = first["msg"].removeprefix("Value error, ")
    if field:
        message = f"{field}: {message}"
    return ApiError(ErrorCode.VALIDATION, message, field=field or default_field)


# graphql-core names the culprit only in its messages; these find it there.
_FIELD_IN_MESSAGE = (
    re.compile(r" at \.(?:[\w\[\]]+\.)*(\w+)(?:\[\d+\])*:"),  # ... invalid value at .input.price:
    re.compile(r" at '(?:[^']*\.)?(\w+)(?:\[\d+\])*'"),  # Variable '$input' ... at 'input.price'
    re.compile(r"^Field '\w+\.(\w+)' of required type"),  # a required input field left out
    re.compile(r"to include required field '(\w+)'"),  # the same, in a literal
    re.compile(r"^Field '(\w+)' is not defined by type"),  # an unknown input field
    re.compile(r"^Variable '\$(\w+)'"),  # a variable of the wrong type
    re.compile(r"^Argument '(\w+)' of required type"),  # a required argument left out
)


_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


def without_suggestions(message: str) -> str:
    """graphql-core's message without its "Did you mean …?" hint, which names the schema."""
    return _SUGGESTION.sub("", message)


def _field_of(error: GraphQLError, document: DocumentNode | None) -> str | None:
    """The input field a graphql-core validation or coercion error is about."""
    for pattern in _FIELD_IN_MESSAGE:
        match = pattern.search(error.message)
        if match:
            return match.group(1)
    if document is None or not error.nodes:
        return None
    culprit = error.nodes[0]
    holder: list[str] = []

    class FindHolder(Visitor):
        def enter_object_field(self, node: ObjectFieldNode, *_: Any) -> None:
            if node.value is culprit:
                holder.append(node.name.value)

        def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
            if node.value is culprit:
                holder.append(node.name.value)

    visit(document, FindHolder())
    return holder[0] if holder else None


def _coded(
    error: GraphQLError, document: DocumentNode | None, *, suggestions: bool = True
) -> GraphQLError:
    original = error.original_error
    code: ErrorCode
    field: str | None = None
    message = error.message
    if isinstance(original, ApiError | DomainError):
        code, field, message = original.code, original.field, original.message
    elif original is None or isinstance(original, GraphQLError):
        # graphql-core's own syntax, validation and variable coercion errors.
        code = ErrorCode.VALIDATION
        field = _field_of(error, document)
        if not suggestions:
            message = without_suggestions(message)
    else:
        code = ErrorCode.INTERNAL
        message = "Internal error; it has been logged."
    extensions: dict[str, Any] = {"code": code.value}
    if field:
        extensions["field"] = field
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions=extensions,
    )


def coded(error: ApiError) -> GraphQLError:
    """`error` as the GraphQL error a client sees, for answers made outside the schema."""
    return _coded(GraphQLError(error.message, original_error=error), None)


class ErrorCodes(SchemaExtension):
    """Gives every error a code and hides internals (no stack trace, no SQL) from clients.

    One path for every transport: a response over HTTP, and each result sent over
    a WebSocket (subscription events, and queries and mutations on the socket).
    With `suggestions=False` (production), "Did you mean …?" hints are dropped.
    """

    def __init__(self, *, suggestions: bool = True) -> None:
        self.suggestions = suggestions

    def on_stream_result(self, result: Any) -> Iterator[None]:
        self._streamed = True
        errors = getattr(result, "errors", None)
        if errors:
            document = self.execution_context.graphql_document
            result.errors = [self._coded(error, document) for error in errors]
        yield

    def on_operation(self) -> Iterator[None]:
        self._streamed = False
        yield
        if self._streamed:
            return  # each result was coded on its way out
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if result is not None and errors:
            document = self.execution_context.graphql_document
            result.errors = [self._coded(error, document) for error in errors]

    def _coded(self, error: GraphQLError, document: DocumentNode | None) -> GraphQLError:
        return _coded(error, document, suggestions=self.suggestions)


def log_unexpected(errors: list[GraphQLError]) -> None:
    for error in errors:
        original = error.original_error
        if original is not None and not isinstance(original, ApiError | DomainError | GraphQLError):
            log.error("unexpected error in resolver", path=error.path, exc_info=original)
