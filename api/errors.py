"""One error shape for every client: `message`, `extensions.code`, `extensions.field`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import structlog
from graphql import GraphQLError
from pydantic import ValidationError
from strawberry.extensions import SchemaExtension

from domain.errors import DomainError, ErrorCode

log = structlog.get_logger(__name__)


class ApiError(Exception):
    """An error the client should see as it is."""

    def __init__(self, code: ErrorCode, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def invalid_input(error: ValidationError, *, prefix: str = "") -> ApiError:
    """The first problem pydantic found, named by its GraphQL field."""
    first = error.errors()[0]
    field = ".".join(camel(str(part)) for part in first["loc"] if part != "kind")
    message = first["msg"]
    if field:
        message = f"{field}: {message}"
    return ApiError(ErrorCode.VALIDATION, message, field=(prefix + field) or None)


def _coded(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    code: ErrorCode
    field: str | None = None
    message = error.message
    if isinstance(original, ApiError | DomainError):
        code, field, message = original.code, original.field, original.message
    elif original is None:
        # graphql-core's own syntax, validation and variable coercion errors.
        code = ErrorCode.VALIDATION
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


class ErrorCodes(SchemaExtension):
    """Gives every error a code and hides internals (no stack trace, no SQL) from clients."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if result is not None and errors:
            result.errors = [_coded(error) for error in errors]


def log_unexpected(errors: list[GraphQLError]) -> None:
    for error in errors:
        original = error.original_error
        if original is not None and not isinstance(original, ApiError | DomainError):
            log.error("unexpected error in resolver", path=error.path, exc_info=original)
