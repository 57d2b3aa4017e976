"""Who may do what, through the real API and worker: tokens, roles and ownership of orders.

Every refusal is a normal GraphQL error with a code, and writes nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from devstack.issuer import ALGORITHM, AUDIENCE, ISSUER, DevIssuer
from tests.api.catalog_client import error_of, event_count, unique
from tests.conftest import ISSUER as TEST_ISSUER
from tests.conftest import token
from tests.orders_client import place, stocked_product, until_final

CLI = [sys.executable, "-m", "cli"]
CREATE_CATEGORY = "mutation($n: String!) { createCategory(input: {name: $n}) { id } }"
ORDER = "query($id: ID!) { order(id: $id) { id userId status } }"
ORDERS = "query($u: ID) { orders(userId: $u, first: 1000) { id userId } }"
CANCEL = "mutation($id: ID!) { cancelOrder(id: $id) { id status } }"


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(**changes: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "mallory",
        "roles": ["admin"],
        "iat": now,
        "exp": now + 600,
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _signed(claims: dict[str, object]) -> str:
    private = TEST_ISSUER.private_key_file.read_text()
    return jwt.encode(claims, private, algorithm=ALGORITHM)


def _forged_tokens() -> dict[str, str]:
    valid = token("mallory")
    head, body, signature = valid.split(".")
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = TEST_ISSUER.public_key_file.read_bytes()
    hs_header = _b64({"alg": "HS256", "typ": "JWT"})
    hs_body = _b64(_claims())
    hs_signature = (
        base64.urlsafe_b64encode(
            hmac.new(public_pem, f"{hs_header}.{hs_body}".encode(), hashlib.sha256).digest()
        )
        .rstrip(b"=")
        .decode()
    )
    return {
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims())}.",
        "tampered claims": f"{head}.{_b64(_claims(sub='someone-else'))}.{signature}",
        "tampered signature": f"{head}.{body}.{signature[:-4]}AAAA",
        "expired": _signed(_claims(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200)),
        "not yet valid": _signed(_claims(nbf=int(time.time()) + 3600)),
        "wrong audience": _signed(_claims(aud="another-api")),
        "wrong issuer": _signed(_claims(iss="https://evil.example")),
        "no expiry": _signed(_claims(exp=None)),
        "no subject": _signed(_claims(sub=None)),
        "a subject with spaces": _signed(_claims(sub=" carol ")),
        "a subject too long": _signed(_claims(sub="x" * 101)),
        "another key": jwt.encode(_claims(), other_key, algorithm=ALGORITHM),
        "HS256 keyed with our public key": f"{hs_header}.{hs_body}.{hs_signature}",
        "garbage": "not-a-jwt",
    }


FORGED = _forged_tokens()


@pytest.mark.parametrize("kind", sorted(FORGED))
async def test_a_bad_token_is_unauthenticated_everywhere_and_writes_nothing(system, engine, kind):
    forged = system.gql.as_user(FORGED[kind])
    before = await event_count(engine)
    refused = error_of(await forged(CREATE_CATEGORY, {"n": unique("Forged")}))
    assert refused["code"] == "UNAUTHENTICATED", (kind, refused)
    # Nothing about why: the reason goes to the server's log only.
    assert refused["message"] in ("the token is not valid", "the token has expired"), refused
    # A public read with a bad token is refused too, not served as anonymous.
    assert error_of(await forged("{ categories { id } }"))["code"] == "UNAUTHENTICATED"
    assert await event_count(engine) == before


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer  ", "token abc"])
async def test_an_authorization_header_that_is_not_a_bearer_token_is_refused(system, header):
    body = await system.gql.as_user(None)("{ categories { id } }", authorization=header)
    assert error_of(body)["code"] == "UNAUTHENTICATED"


async def test_anonymous_callers_read_the_catalog_and_write_nothing(system, engine):
    anonymous = system.gql.as_user(None)
    product = await stocked_product(system.gql, stock=1)
    listed = await anonymous.data("{ products(first: 1000) { id } }")
    assert product["id"] in {p["id"] for p in listed["products"]}
    before = await event_count(engine)
    assert error_of(await anonymous(CREATE_CATEGORY, {"n": unique("Anon")}))["code"] == (
        "UNAUTHENTICATED"
    )
    refused = await place(anonymous, [(product["id"], 1)])
    assert error_of(refused)["code"] == "UNAUTHENTICATED"
    assert error_of(await anonymous(ORDERS, {"u": None}))["code"] == "UNAUTHENTICATED"
    assert await event_count(engine) == before


async def test_customers_may_not_run_the_catalog(system, engine):
    customer = system.gql.as_user(token("carol", role="customer"))
    product = await stocked_product(system.gql, stock=1)
    before = await event_count(engine)
    assert error_of(await customer(CREATE_CATEGORY, {"n": unique("C")}))["code"] == "FORBIDDEN"
    add_stock = "mutation($p: ID!) { addStock(input: {productId: $p, quantity: 5}) { id } }"
    assert error_of(await customer(add_stock, {"p": product["id"]}))["code"] == "FORBIDDEN"
    reprice = "mutation($p: ID!) { updateProduct(id: $p, input: {price: 1}) { id } }"
    assert error_of(await customer(reprice, {"p": product["id"]}))["code"] == "FORBIDDEN"
    assert await event_count(engine) == before


async def test_a_customer_orders_for_themself_and_sees_only_their_own_orders(system):
    carol = system.gql.as_user(token("carol", role="customer"))
    dave = system.gql.as_user(token("dave", role="customer"))
    product = await stocked_product(system.gql, stock=5)

    mine = await place(carol, [(product["id"], 1)], user=None)
    order = mine["data"]["createOrder"]
    assert order["userId"] == "carol"
    await until_final(system.gql, order["id"])
    # userId may be given, but only as the caller's own.
    assert (await place(carol, [(product["id"], 1)], user="carol"))["data"]["createOrder"]
    refused = error_of(await place(carol, [(product["id"], 1)], user="dave"))
    assert (refused["code"], refused["field"]) == ("FORBIDDEN", "userId")

    # Someone else's order is exactly as missing as an order that does not exist.
    assert (await dave.data(ORDER, {"id": order["id"]}))["order"] is None
    assert (await dave.data(ORDER, {"id": "no-such-order"}))["order"] is None
    theirs = error_of(await dave(CANCEL, {"id": order["id"]}))
    missing = error_of(await dave(CANCEL, {"id": "no-such-order"}))
    assert theirs["code"] == missing["code"] == "NOT_FOUND"

    assert {o["userId"] for o in (await carol.data(ORDERS, {"u": None}))["orders"]} == {"carol"}
    assert (await dave.data(ORDERS, {"u": None}))["orders"] == []
    assert error_of(await dave(ORDERS, {"u": "carol"}))["code"] == "FORBIDDEN"
    # Paging after someone else's order is as unknown as paging after a missing one.
    page = "query($a: ID) { orders(first: 10, after: $a) { id } }"
    theirs_cursor = error_of(await dave(page, {"a": order["id"]}))
    missing_cursor = error_of(await dave(page, {"a": "no-such-order"}))
    assert theirs_cursor["code"] == missing_cursor["code"] == "VALIDATION"
    assert theirs_cursor["message"].replace(order["id"], "X") == missing_cursor["message"].replace(
        "no-such-order", "X"
    )

    # An admin sees every order, and places orders for any user.
    admin = system.gql
    assert (await admin.data(ORDER, {"id": order["id"]}))["order"]["userId"] == "carol"
    users = {o["userId"] for o in (await admin.data(ORDERS, {"u": None}))["orders"]}
    assert "carol" in users
    placed = await place(admin, [(product["id"], 1)], user="dave")
    assert placed["data"]["createOrder"]["userId"] == "dave"


async def test_a_token_without_a_role_may_not_order(system):
    nobody = system.gql.as_user(TEST_ISSUER.token(subject="erin", roles=[]))
    product = await stocked_product(system.gql, stock=1)
    assert error_of(await place(nobody, [(product["id"], 1)], user=None))["code"] == "FORBIDDEN"


async def test_refusals_are_counted_by_code(system):
    await system.gql.as_user(None)(CREATE_CATEGORY, {"n": unique("M")})
    await system.gql.as_user(token("carol", role="customer"))(CREATE_CATEGORY, {"n": unique("M")})
    metrics = (await system.http.get("/metrics")).text
    for code in ("UNAUTHENTICATED", "FORBIDDEN"):
        assert any(
            line.startswith("graphql_errors_total{") and f'code="{code}"' in line
            for line in metrics.splitlines()
        ), code


def test_shop_token_prints_one_token_the_issuer_signed(tmp_path: Path, repo_root: Path):
    env = {**os.environ, "DATA_DIR": str(tmp_path)}
    output = subprocess.run(
        [*CLI, "token", "--sub", "u-1", "--role", "customer", "--tenant", "acme", "--ttl", "120"],
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    (line,) = output.splitlines()
    issuer = DevIssuer(tmp_path / "dev-issuer")
    claims = jwt.decode(
        line,
        issuer.public_key_file.read_text(),
        algorithms=[ALGORITHM],
        audience=AUDIENCE,
        issuer=ISSUER,
    )
    assert (claims["sub"], claims["roles"], claims["tenant"]) == ("u-1", ["customer"], "acme")
    assert 110 <= claims["exp"] - time.time() <= 121


def test_shop_token_refuses_to_sign_for_another_issuer(tmp_path: Path, repo_root: Path):
    env = {**os.environ, "DATA_DIR": str(tmp_path), "AUTH_ISSUER": "https://login.example.com"}
    run = subprocess.run(
        [*CLI, "token", "--sub", "u-1", "--role", "admin"],
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode != 0 and run.stdout == ""
    assert "dev issuer only" in run.stderr
    assert not (tmp_path / "dev-issuer").exists()


async def test_graphiql_carries_no_token_unless_development_gives_one(system):
    page = await system.http.get("/graphiql", headers={"accept": "text/html"})
    assert page.status_code == 200 and "Bearer" not in page.text
