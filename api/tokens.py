"""Verifying bearer tokens (JWT) with PyJWT: pinned algorithms, iss/aud/exp/nbf, a small cache.

Keys come from the issuer's JWKS URL (OIDC; cached, refetched on an unknown
`kid`), from a PEM public key, or from a shared secret (HS*). A verifier
accepts one family of algorithms only, so a token cannot pass an RS key off as
an HMAC secret; `alg=none` is never in the list.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from api.identity import DEFAULT_TENANT, Identity, Role

_SYMMETRIC = frozenset({"HS256", "HS384", "HS512"})
_ASYMMETRIC = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
CACHE_SIZE = 4096
"""Verified tokens kept, so a client's repeated token costs one signature check."""


class InvalidToken(Exception):
    """The token is malformed, forged, expired, or not for us."""


class TokenVerifier:
    """Turns a bearer token into an `Identity`, or raises `InvalidToken`.

    Give exactly one key source: `jwks_url`, `public_key` (PEM) or `shared_secret`.
    """

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        algorithms: Sequence[str],
        jwks_url: str | None = None,
        public_key: str | None = None,
        shared_secret: str | None = None,
        roles_claim: str = "roles",
        tenant_claim: str = "tenant",
        leeway_seconds: float = 30.0,
        jwks_cooldown_seconds: float = 30.0,
    ) -> None:
        sources = [s for s in (jwks_url, public_key, shared_secret) if s is not None]
        if len(sources) != 1:
            raise ValueError("give exactly one of a JWKS URL, a public key or a shared secret")
        chosen = frozenset(algorithms)
        if not chosen:
            raise ValueError("no signature algorithm is allowed")
        family = _SYMMETRIC if shared_secret is not None else _ASYMMETRIC
        if not chosen <= family:
            kind = "a shared secret" if shared_secret is not None else "public keys"
            raise ValueError(f"with {kind} only {', '.join(sorted(family))} may be allowed")
        if shared_secret is not None and len(shared_secret.encode()) < 32:
            raise ValueError("a shared secret must be at least 32 bytes")
        self._issuer = issuer
        self._audience = audience
        self._algorithms = sorted(chosen)
        # An unknown `kid` refetches the key set, at most once per cooldown, so
        # forged tokens with made-up key ids cannot make us hammer the issuer.
        self._jwks = (
            jwt.PyJWKClient(jwks_url, cache_keys=True, cooldown_duration=jwks_cooldown_seconds)
            if jwks_url
            else None
        )
        self._key: Any = None
        if public_key is not None:
            self._key = load_pem_public_key(public_key.encode())
        elif shared_secret is not None:
            self._key = shared_secret
        self._roles_path = roles_claim.split(".")
        self._tenant_claim = tenant_claim
        self._leeway = leeway_seconds
        self._cache: OrderedDict[str, tuple[Identity, float]] = OrderedDict()

    async def identify(self, token: str) -> Identity:
        cached = self._cache.get(token)
        if cached is not None:
            identity, expires = cached
            if time.time() <= expires + self._leeway:
                self._cache.move_to_end(token)
                return identity
            del self._cache[token]
            raise InvalidToken("the token has expired")
        key = self._key
        if self._jwks is not None:
            key = await asyncio.to_thread(self._signing_key, token)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=self._algorithms,
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("the token has expired") from None
        except jwt.PyJWTError as error:
            raise InvalidToken(f"the token is not valid: {error}") from None
        identity = self._identity(claims)
        self._cache[token] = (identity, float(claims["exp"]))
        if len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return identity

    def _signing_key(self, token: str) -> Any:
        assert self._jwks is not None
        try:
            return self._jwks.get_signing_key_from_jwt(token).key
        except jwt.PyJWTError as error:
            raise InvalidToken(f"the token's key is unknown: {error}") from None

    def _identity(self, claims: Mapping[str, Any]) -> Identity:
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject:
            raise InvalidToken("the token has no subject")
        tenant = claims.get(self._tenant_claim, DEFAULT_TENANT)
        if not isinstance(tenant, str) or not tenant:
            raise InvalidToken("the token's tenant is not a name")
        return Identity(subject=subject, tenant=tenant, roles=self._roles(claims))

    def _roles(self, claims: Mapping[str, Any]) -> frozenset[Role]:
        found: Any = claims
        for part in self._roles_path:
            found = found.get(part) if isinstance(found, Mapping) else None
        names = found.split() if isinstance(found, str) else found
        if not isinstance(names, list):
            return frozenset()
        known = {role.value: role for role in Role}
        return frozenset(known[name] for name in names if isinstance(name, str) and name in known)
