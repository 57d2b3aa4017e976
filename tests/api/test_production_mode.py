"""SHOP_ENV=production: no explorer, no anonymous introspection, no suggestions, and
/metrics only on the internal port. Development keeps all of them."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from pydantic import ValidationError

from settings import Settings
from tests.api.catalog_client import error_of
from tests.conftest import free_port, make_settings, running_api, temporal_address

INTROSPECTION = "{ __schema { queryType { name } } }"
TYPO = "{ prodcts { id } }"


@pytest.fixture
async def production(database_url, temporal_env, psp_url):
    settings = make_settings(
        database_url, temporal_address(temporal_env), psp_url, shop_env="production"
    )
    port = free_port()
    async with running_api(settings, internal_port=port) as system:
        yield system, port


@pytest.fixture
async def development(database_url, temporal_env, psp_url):
    settings = make_settings(database_url, temporal_address(temporal_env), psp_url)
    async with running_api(settings) as system:
        yield system


async def test_production_serves_no_explorer_and_no_public_metrics(production):
    system, _ = production
    html = {"accept": "text/html"}
    assert (await system.http.get("/graphql", headers=html)).status_code != 200
    for path in ("/graphiql", "/docs", "/redoc", "/openapi.json", "/metrics"):
        assert (await system.http.get(path)).status_code == 404, path
    assert (await system.http.get("/healthz")).status_code == 200


async def test_development_keeps_them(development):
    page = await development.http.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()
    for path in ("/graphiql", "/docs", "/openapi.json", "/metrics"):
        assert (await development.http.get(path)).status_code == 200, path
    assert (await development.gql.as_user(None)(INTROSPECTION))["data"]["__schema"]
    assert "Did you mean 'products'" in error_of(await development.gql(TYPO))["message"]


async def test_only_signed_in_callers_introspect_in_production(production):
    system, _ = production
    anonymous = system.gql.as_user(None)
    refused = error_of(await anonymous(INTROSPECTION))
    assert refused["code"] == "VALIDATION" and "introspection" in refused["message"].lower()
    type_query = error_of(await anonymous('{ __type(name: "Order") { name } }'))
    assert type_query["code"] == "VALIDATION"
    assert (await anonymous("{ __typename }"))["data"] == {"__typename": "Query"}
    forged = error_of(await anonymous(INTROSPECTION, authorization="Bearer not.a.token"))
    assert forged["code"] in {"VALIDATION", "UNAUTHENTICATED"}
    signed_in = await system.gql.data(INTROSPECTION)
    assert signed_in["__schema"]["queryType"]["name"] == "Query"
    # Validated once for a signed-in caller, the same document is still refused to
    # an anonymous one: validations are remembered per set of rules (api.guards.parse_cache).
    again = error_of(await anonymous(INTROSPECTION))
    assert again["code"] == "VALIDATION" and "introspection" in again["message"].lower()


async def test_production_errors_make_no_suggestions(production):
    system, _ = production
    for document in (
        TYPO,
        "{ products(frist: 1) { id } }",
        "{ product(id: 1) { nme } }",
        'mutation { createCategory(input: {nam: "x"}) { id } }',  # text after the hint
    ):
        errors = (await system.gql(document))["errors"]
        assert {error["extensions"]["code"] for error in errors} == {"VALIDATION"}
        assert not any("did you mean" in e["message"].lower() for e in errors), errors


async def test_metrics_and_probes_on_the_internal_port(production):
    system, port = production
    await system.gql("{ __typename }")
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as internal:
        for _ in range(100):  # the server starts beside the lifespan
            try:
                metrics = await internal.get("/metrics")
                break
            except httpx.ConnectError:
                await asyncio.sleep(0.05)
        assert metrics.status_code == 200 and "graphql_operations" in metrics.text
        assert (await internal.get("/readyz")).json()["database"] == "ok"


def test_production_refuses_to_start_without_a_payment_provider():
    with pytest.raises(ValidationError, match="PSP_URL"):
        Settings(shop_env="production")
    assert Settings(shop_env="production", psp_url="https://psp.example.com").production
