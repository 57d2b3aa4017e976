"""The media types of GraphQL over HTTP (the GraphQL Foundation's spec), and what each means.

`application/graphql-response+json` is the spec's own: a client that asks for it
(Apollo Client 4 does, by default) learns from the status code whether its request
was refused before it ran (400, and no `data` entry) or ran with errors (200).
`application/json` is kept for every client that asks for it, or for anything:
under it, every GraphQL answer is 200, as it always was.
"""

from __future__ import annotations

from strawberry.types import ExecutionResult

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"


def _quality(media_range: str) -> tuple[str, float]:
    """`type/subtype` and its `q` (1 unless given; 0 when unreadable)."""
    kind, *parameters = (part.strip() for part in media_range.split(";"))
    quality = 1.0
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                quality = float(value)
            except ValueError:
                quality = 0.0
    return kind.lower(), quality if 0.0 <= quality <= 1.0 else 0.0


def response_media_type(accept: str | None) -> str:
    """The media type to answer with: the spec's own when the caller prefers it to
    `application/json`, else `application/json` (also for no header, `*/*`, or a
    header naming neither, as the spec allows for legacy clients)."""
    qualities: dict[str, float] = {}
    for media_range in (accept or "").split(","):
        kind, quality = _quality(media_range)
        qualities[kind] = max(quality, qualities.get(kind, 0.0))
    wanted = qualities.get(GRAPHQL_RESPONSE, 0.0)
    if wanted > 0.0 and wanted >= qualities.get(JSON, 0.0):
        return GRAPHQL_RESPONSE
    return JSON


def is_request_error(result: ExecutionResult) -> bool:
    """Whether the request was refused before execution began: a document that did
    not parse or validate, or variables that did not coerce.

    Such a result has no data and no error with a path; an error raised while
    resolving a field always has the field's path.
    """
    errors = result.errors or []
    return result.data is None and bool(errors) and all(error.path is None for error in errors)
