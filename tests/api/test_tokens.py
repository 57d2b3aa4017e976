"""The token verifier alone: its configuration rules, claims, cache and a real JWKS endpoint."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

import bootstrap
from api.auth.identity import Role
from api.auth.tokens import InvalidToken, TokenVerifier
from api.errors import ApiError
from api.graphql.context import Context, Services
from domain.errors import ErrorCode
from settings import Settings

SECRET = "s" * 32


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {"iss": "iss", "aud": "aud", "sub": "u", "iat": now, "exp": now + 60}
    base.update(changes)
    return base


def hs_verifier(**options: Any) -> TokenVerifier:
    return TokenVerifier(
        issuer="iss", audience="aud", algorithms=["HS256"], shared_secret=SECRET, **options
    )


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        ({"algorithms": ["HS256"], "shared_secret": "short"}, "at least 32 bytes"),
        ({"algorithms": ["RS256"], "shared_secret": SECRET}, "with a shared secret only"),
        ({"algorithms": ["HS256", "none"], "shared_secret": SECRET}, "with a shared secret only"),
        ({"algorithms": [], "shared_secret": SECRET}, "no signature algorithm"),
        ({"algorithms": ["RS256"]}, "exactly one"),
        (
            {"algorithms": ["RS256"], "shared_secret": SECRET, "jwks_url": "http://x/jwks"},
            "exactly one",
        ),
        ({"algorithms": ["HS256", "RS256"], "jwks_url": "http://x/jwks"}, "with public keys"),
    ],
)
def test_a_verifier_that_could_be_fooled_is_refused_at_start(options, complaint):
    with pytest.raises(ValueError, match=complaint):
        TokenVerifier(issuer="iss", audience="aud", **options)


def test_the_api_does_not_start_without_an_issuer():
    with pytest.raises(RuntimeError, match="AUTH_ISSUER"):
        bootstrap.token_verifier(Settings(auth_issuer=None))


async def test_claims_become_the_identity_with_roles_from_a_configured_path():
    verifier = hs_verifier(roles_claim="realm_access.roles", tenant_claim="org")
    token = jwt.encode(
        claims(realm_access={"roles": ["admin", "auditor"]}, org="acme"), SECRET, "HS256"
    )
    identity = await verifier.identify(token)
    assert (identity.subject, identity.tenant) == ("u", "acme")
    assert identity.roles == frozenset({Role.ADMIN})
    plain = await hs_verifier().identify(jwt.encode(claims(roles=["customer"]), SECRET, "HS256"))
    assert (plain.tenant, plain.roles) == ("default", frozenset({Role.CUSTOMER}))


async def test_a_cached_token_is_still_refused_once_it_expires():
    verifier = hs_verifier(leeway_seconds=0)
    token = jwt.encode(claims(exp=int(time.time()) + 1), SECRET, "HS256")
    first = await verifier.identify(token)
    assert await verifier.identify(token) is first  # verified once, then served from the cache
    await asyncio.sleep(2.1)
    with pytest.raises(InvalidToken, match="expired"):
        await verifier.identify(token)


class Issuer:
    """An OIDC-style issuer: a JWKS endpoint over real HTTP, and keys that rotate."""

    def __init__(self) -> None:
        self.keys: dict[str, rsa.RSAPrivateKey] = {}
        self.fetches = 0
        self.made = 0
        self.rotate()

    def rotate(self) -> str:
        self.made += 1
        kid = f"key-{self.made}"
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return kid

    def jwks(self) -> dict[str, Any]:
        algorithm = jwt.algorithms.RSAAlgorithm
        keys = []
        for kid, key in self.keys.items():
            jwk = json.loads(algorithm.to_jwk(key.public_key()))
            keys.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
        return {"keys": keys}

    def sign(self, kid: str, **changes: Any) -> str:
        return jwt.encode(claims(**changes), self.keys[kid], "RS256", headers={"kid": kid})


@pytest.fixture
def issuer() -> Iterator[tuple[Issuer, str]]:
    state = Issuer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.fetches += 1
            body = json.dumps(state.jwks()).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}/jwks"
    server.shutdown()


async def test_jwks_keys_are_cached_and_refetched_when_an_unknown_key_signs(issuer):
    state, url = issuer
    verifier = TokenVerifier(
        issuer="iss", audience="aud", algorithms=["RS256"], jwks_url=url, jwks_cooldown_seconds=0
    )
    assert (await verifier.identify(state.sign("key-1", sub="a"))).subject == "a"
    assert (await verifier.identify(state.sign("key-1", sub="b"))).subject == "b"
    assert state.fetches == 1
    rotated = state.rotate()
    assert (await verifier.identify(state.sign(rotated, sub="c"))).subject == "c"
    assert state.fetches == 2
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(claims(), stranger, "RS256", headers={"kid": "key-1"})
    with pytest.raises(InvalidToken):
        await verifier.identify(forged)


async def test_made_up_key_ids_do_not_make_the_verifier_hammer_the_issuer(issuer):
    state, url = issuer
    verifier = TokenVerifier(issuer="iss", audience="aud", algorithms=["RS256"], jwks_url=url)
    await verifier.identify(state.sign("key-1"))
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for n in range(5):
        made_up = jwt.encode(claims(), stranger, "RS256", headers={"kid": f"made-up-{n}"})
        with pytest.raises(InvalidToken):
            await verifier.identify(made_up)
    assert state.fetches <= 2  # the first fetch, and at most one refetch per cooldown


async def test_a_key_the_issuer_withdraws_is_no_longer_trusted(issuer):
    state, url = issuer
    verifier = TokenVerifier(
        issuer="iss", audience="aud", algorithms=["RS256"], jwks_url=url, jwks_cooldown_seconds=0
    )
    await verifier.identify(state.sign("key-1", sub="before"))
    withdrawn = state.keys.pop("key-1")
    rotated = state.rotate()
    await verifier.identify(state.sign(rotated, sub="after"))  # an unknown kid: refetched
    leaked = jwt.encode(claims(sub="new"), withdrawn, "RS256", headers={"kid": "key-1"})
    with pytest.raises(InvalidToken):
        await verifier.identify(leaked)


async def test_a_header_naming_an_algorithm_the_key_cannot_do_is_refused_not_a_crash(issuer):
    state, url = issuer
    allowed = ["RS256", "ES256"]
    by_jwks = TokenVerifier(issuer="iss", audience="aud", algorithms=allowed, jwks_url=url)
    other = ec.generate_private_key(ec.SECP256R1())
    forged = jwt.encode(claims(), other, "ES256", headers={"kid": "key-1"})
    with pytest.raises(InvalidToken):
        await by_jwks.identify(forged)
    pem = (
        state.keys["key-1"]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    by_pem = TokenVerifier(issuer="iss", audience="aud", algorithms=allowed, public_key=pem)
    with pytest.raises(InvalidToken):
        await by_pem.identify(jwt.encode(claims(), other, "ES256"))
    with pytest.raises(ValueError, match="can be verified with this public key"):
        TokenVerifier(issuer="iss", audience="aud", algorithms=["ES256"], public_key=pem)


async def test_roles_come_from_a_list_only_and_claim_names_may_hold_dots():
    spaced = jwt.encode(claims(roles="admin customer"), SECRET, "HS256")
    assert (await hs_verifier().identify(spaced)).roles == frozenset()
    namespaced = hs_verifier(roles_claim="https://shop.example.com/roles")
    token = jwt.encode(claims(**{"https://shop.example.com/roles": ["admin"]}), SECRET, "HS256")
    assert (await namespaced.identify(token)).roles == frozenset({Role.ADMIN})


def test_a_jwks_url_must_be_https_off_this_host():
    with pytest.raises(ValueError, match="https"):
        TokenVerifier(
            issuer="iss", audience="aud", algorithms=["RS256"], jwks_url="http://idp.example/jwks"
        )


async def test_a_socket_may_do_nothing_more_once_its_token_expires():
    verifier = hs_verifier(leeway_seconds=0)
    identity = await verifier.identify(
        jwt.encode(claims(exp=int(time.time()) + 1), SECRET, "HS256")
    )
    services = Services(
        engine=None, checks={}, commands=None, sagas=None, notifications=None, verifier=verifier
    )
    context = Context(services=services, correlation_id="c", identity=identity)
    assert context.signed_in() is identity
    await asyncio.sleep(2.1)
    with pytest.raises(ApiError) as refused:
        context.signed_in()
    assert refused.value.code is ErrorCode.UNAUTHENTICATED
