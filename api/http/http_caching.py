"""What browsers and CDNs may keep of a GraphQL answer, and when they may reuse it.

Only the public catalog, read anonymously over GET, may be shared: it is the
same for everyone of a tenant, and a GET's URL names it (`?query=…` or, with
automatic persisted queries, `?extensions=…` holding the hash, which keeps the
URL short). Such an answer is `public, max-age=<GRAPHQL_PUBLIC_MAX_AGE_SECONDS>`
with an `ETag`, and a request with that tag in `If-None-Match` gets `304` and
no body. It varies by the tenant (`X-Tenant-Id` picks it for anonymous
callers), the media type and the token. Anything signed in is
`private, no-store`; everything else (errors, orders, POST) is `no-store`.
"""

from __future__ import annotations

import hashlib

from fastapi import Response, status

PRIVATE = "private, no-store"
NOT_STORED = "no-store"
VARY = "Accept, Authorization, X-Tenant-Id"


def public(max_age_seconds: int) -> str:
    return f"public, max-age={max_age_seconds}"


def cache_control(*, shareable: bool, signed_in: bool, max_age_seconds: int) -> str:
    """The `Cache-Control` of an answer: `shareable` is an anonymous catalog read over
    GET that succeeded."""
    if signed_in:
        return PRIVATE
    return public(max_age_seconds) if shareable else NOT_STORED


def entity_tag(body: bytes) -> str:
    """A strong validator of the answer's bytes (it changes whenever they do)."""
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def matches(if_none_match: str | None, tag: str) -> bool:
    """Whether `If-None-Match` names `tag` (weak comparison, as RFC 9110 asks for GET)."""
    if not if_none_match:
        return False
    candidates = (candidate.strip().removeprefix("W/") for candidate in if_none_match.split(","))
    return any(candidate in {tag, "*"} for candidate in candidates)


def with_validator(response: Response, if_none_match: str | None) -> Response:
    """`response` with its `ETag` if it is public, or `304` if the caller holds it already."""
    if response.status_code != status.HTTP_200_OK or not response.headers.get(
        "cache-control", ""
    ).startswith("public"):
        return response
    tag = entity_tag(bytes(response.body))
    response.headers["etag"] = tag
    if not matches(if_none_match, tag):
        return response
    kept = {name: response.headers[name] for name in ("cache-control", "etag", "vary")}
    return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=kept)
