"""Signing callers in: a request's `Authorization` header, a WebSocket's `connection_init`.

No token at all is an anonymous caller; a token that was sent but is not
valid is refused, never ignored (an expired token does not become anonymous).
"""

from __future__ import annotations

from api.auth.identity import Identity, anonymous
from api.auth.sockets import Caller, SocketsPerCaller
from api.auth.tokens import InvalidToken, TokenVerifier
from tenancy import TENANT_NAME


def bearer_token(authorization: object) -> str | None:
    """The token of an `Authorization: Bearer <token>` value (None when there is none)."""
    if not isinstance(authorization, str):
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def identify(
    verifier: TokenVerifier, authorization: object, tenant_header: str | None
) -> tuple[Identity, str | None]:
    """The caller and, when a token was sent but is not valid, why it was refused.

    No token at all is an anonymous reader of `tenant_header`'s tenant (or the
    default one); with a token, the tenant is the token's and headers mean nothing.
    """
    if authorization is None:
        if tenant_header is not None and not TENANT_NAME.fullmatch(tenant_header):
            return anonymous(), "x-tenant-id must be a tenant's name"
        return anonymous(tenant_header), None
    token = bearer_token(authorization)
    if token is None:
        return anonymous(), "the Authorization header must be `Bearer <token>`"
    try:
        return await verifier.identify(token), None
    except InvalidToken as refused:
        return anonymous(), str(refused)


async def sign_in_socket(
    verifier: TokenVerifier, sockets: SocketsPerCaller, authorization: object
) -> tuple[Identity, Caller] | str:
    """Who a WebSocket's `connection_init` names, its socket counted against that caller.

    Or, as text for the close frame, why the socket may not stay open: no valid
    token, or a caller who already holds as many sockets as `sockets` allows.
    The caller gives the socket back (`sockets.give_back`) when it closes.
    """
    identity, failure = await identify(verifier, authorization, None)
    if failure is not None:
        return failure
    if not identity.signed_in or identity.subject is None:
        return "sign in to subscribe: send Authorization: Bearer <token>"
    caller = (identity.tenant, identity.subject)
    if not sockets.take(caller):
        return (
            f"this caller already holds {sockets.cap} open sockets, "
            "the most allowed; close one first"
        )
    return identity, caller
