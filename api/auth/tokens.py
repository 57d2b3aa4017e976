"""Verifying bearer tokens (JWT) with PyJWT: pinned algorithms, iss/aud/exp/nbf, a small cache.

Keys come from the issuer's JWKS URL (OIDC; cached, refetched on an unknown
`kid`), from a PEM public key, or from a shared secret (HS*). A verifier
accepts one family of algorithms only, so a token cannot pass an RS key off as
an HMAC secret; `alg=none` is never in the list.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import jwt
import structlog
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from api.auth.identity import DEFAULT_TENANT, Identity, Role
from tenancy import TENANT_NAME

_SYMMETRIC = frozenset({"HS256", "HS384", "HS512"})
_ASYMMETRIC = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
log = structlog.get_logger(__name__)

CACHE_SIZE = 4096
"""Verified tokens kept, so a client's repeated token costs one signature check."""


class InvalidToken(Exception):
    """The token is malformed, forged, expired, or not for us.

    Its message is all a client is told; `reason` (the detail) goes to the log only.
    """

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason or message


_NAME = TENANT_NAME
"""What a subject or a tenant may be: the ids orders are keyed by (no spaces, at most 100)."""


def _safe_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "https" or (
        parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")
    )


def _for_key(key: Any, algorithms: frozenset[str]) -> frozenset[str]:
    """The algorithms this public key can verify; refuses a configuration left with none."""
    if isinstance(key, rsa.RSAPublicKey):
        usable = {name for name in algorithms if name[:2] in ("RS", "PS")}
    elif isinstance(key, ec.EllipticCurvePublicKey):
        usable = {name for name in algorithms if name.startswith("ES")}
    elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        usable = {name for name in algorithms if name == "EdDSA"}
    else:
        usable = set()
    if not usable:
        raise ValueError(f"none of {sorted(algorithms)} can be verified with this public key")
    return frozenset(usable)


def _unverified_header(token: str) -> dict[str, Any]:
    """What the token says of itself, for the log (never trusted)."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        return {}
    return {"kid": str(header.get("kid"))[:100], "alg": str(header.get("alg"))[:20]}


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
        if jwks_url is not None and not _safe_url(jwks_url):
            raise ValueError("the JWKS URL must be https (plain http only on this host)")
        self._key: Any = None
        if public_key is not None:
            self._key = load_pem_public_key(public_key.encode())
            chosen = _for_key(self._key, chosen)
        elif shared_secret is not None:
            self._key = shared_secret
        self._issuer = issuer
        self._audience = audience
        self._algorithms = sorted(chosen)
        # The key set is cached (5 minutes), never single keys: a key the issuer
        # withdraws stops being trusted with the next fetch. An unknown `kid`
        # refetches at most once per cooldown, so made-up key ids cannot make
        # us hammer the issuer.
        self._jwks = (
            jwt.PyJWKClient(
                jwks_url,
                cache_keys=False,
                cache_jwk_set=True,
                lifespan=300,
                cooldown_duration=jwks_cooldown_seconds,
                timeout=5,
            )
            if jwks_url
            else None
        )
        self._roles_claim = roles_claim
        self._tenant_claim = tenant_claim
        self._leeway = leeway_seconds
        self._cache: OrderedDict[str, Identity] = OrderedDict()

    @property
    def leeway_seconds(self) -> float:
        return self._leeway

    async def identify(self, token: str) -> Identity:
        """The token's identity; `InvalidToken` says only that it is refused (the log says why)."""
        cached = self._cache.get(token)
        if cached is not None:
            if cached.current(self._leeway):
                self._cache.move_to_end(token)
                return cached
            del self._cache[token]
            raise InvalidToken("the token has expired")
        try:
            identity = await self._verify(token)
        except InvalidToken as refused:
            log.info("token refused", reason=refused.reason, **_unverified_header(token))
            raise
        self._cache[token] = identity
        if len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return identity

    async def _verify(self, token: str) -> Identity:
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
        except (jwt.PyJWTError, TypeError, ValueError) as error:
            # TypeError, ValueError: a header that names an algorithm this key cannot do.
            raise InvalidToken("the token is not valid", reason=str(error)) from None
        return self._identity(claims)

    def _signing_key(self, token: str) -> jwt.PyJWK:
        """The issuer's key named by the token's `kid`; the PyJWK ties it to its algorithm."""
        assert self._jwks is not None
        try:
            return self._jwks.get_signing_key_from_jwt(token)
        except jwt.PyJWTError as error:
            raise InvalidToken("the token is not valid", reason=str(error)) from None

    def _identity(self, claims: Mapping[str, Any]) -> Identity:
        subject = claims["sub"]
        if not isinstance(subject, str) or not _NAME.fullmatch(subject):
            raise InvalidToken("the token is not valid", reason=f"subject {subject!r}")
        tenant = claims.get(self._tenant_claim, DEFAULT_TENANT)
        if not isinstance(tenant, str) or not _NAME.fullmatch(tenant):
            raise InvalidToken("the token is not valid", reason=f"tenant {tenant!r}")
        return Identity(
            subject=subject,
            tenant=tenant,
            roles=self._roles(claims),
            expires_at=float(claims["exp"]),
        )

    def _roles(self, claims: Mapping[str, Any]) -> frozenset[Role]:
        """Roles from a list: the claim of that name, or else a dotted path (realm_access.roles)."""
        found: Any = claims.get(self._roles_claim)
        if found is None and "." in self._roles_claim:
            found = claims
            for part in self._roles_claim.split("."):
                found = found.get(part) if isinstance(found, Mapping) else None
        names = found
        if not isinstance(names, list):
            return frozenset()
        known = {role.value: role for role in Role}
        return frozenset(known[name] for name in names if isinstance(name, str) and name in known)
