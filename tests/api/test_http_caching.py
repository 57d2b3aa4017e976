"""GET for queries: anonymous catalog answers may be cached by browsers and CDNs, with an
ETag and 304; signed-in answers may not be kept at all; a mutation over GET is 405."""

from __future__ import annotations

import json

import pytest

from api.http.http_caching import cache_control, entity_tag, matches
from tests.api.catalog_client import create_category, create_product, unique
from tests.conftest import token

JSON = {"accept": "application/json"}


@pytest.mark.parametrize(
    ("header", "matched"),
    [
        (None, False),
        ("", False),
        ('"abc"', True),
        ('W/"abc"', True),
        ('"x", "abc"', True),
        ("*", True),
        ('"abd"', False),
        ("abc", False),
    ],
)
def test_if_none_match_is_compared_weakly(header, matched):
    assert matches(header, '"abc"') is matched


def test_only_an_anonymous_shareable_answer_is_public():
    assert cache_control(shareable=True, signed_in=False, max_age_seconds=30) == (
        "public, max-age=30"
    )
    assert cache_control(shareable=True, signed_in=True, max_age_seconds=30) == (
        "private, no-store"
    )
    assert cache_control(shareable=False, signed_in=False, max_age_seconds=30) == "no-store"
    assert entity_tag(b"a") != entity_tag(b"b")


async def test_an_anonymous_catalog_get_is_public_with_an_etag_and_304(system):
    category = await create_category(system.gql)
    name = unique("Cached lamp")
    await create_product(system.gql, category["id"], name=name)
    params = {"query": '{ products(categoryId: "%s") { name } }' % category["id"]}

    first = await system.http.get("/graphql", params=params, headers=JSON)
    assert first.status_code == 200
    assert first.json()["data"]["products"] == [{"name": name}]
    assert first.headers["cache-control"] == (
        f"public, max-age={system.settings.graphql_public_max_age_seconds}"
    )
    assert "x-tenant-id" in first.headers["vary"].lower()
    tag = first.headers["etag"]

    unchanged = await system.http.get(
        "/graphql", params=params, headers={**JSON, "if-none-match": tag}
    )
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    assert unchanged.headers["etag"] == tag

    await create_product(system.gql, category["id"], name=unique("Second lamp"))
    changed = await system.http.get(
        "/graphql", params=params, headers={**JSON, "if-none-match": tag}
    )
    assert changed.status_code == 200
    assert len(changed.json()["data"]["products"]) == 2
    assert changed.headers["etag"] != tag


async def test_signed_in_answers_are_private_and_never_stored(system):
    params = {"query": "{ products(first: 1) { id } }"}
    signed_in = await system.http.get(
        "/graphql", params=params, headers={**JSON, "authorization": f"Bearer {token()}"}
    )
    assert signed_in.status_code == 200
    assert signed_in.headers["cache-control"] == "private, no-store"
    assert "etag" not in signed_in.headers


async def test_what_is_not_a_catalog_read_over_get_is_not_stored(system):
    for answer in (
        # POST is never cached by HTTP caches, and says so.
        await system.http.post("/graphql", json={"query": "{ products(first: 1) { id } }"}),
        # An error is not an answer to keep.
        await system.http.get("/graphql", params={"query": "{ nope }"}, headers=JSON),
        # Orders are not the public catalog.
        await system.http.get(
            "/graphql", params={"query": '{ order(id: "x") { id } }'}, headers=JSON
        ),
    ):
        assert answer.headers["cache-control"] == "no-store", answer.text
        assert "etag" not in answer.headers


async def test_a_mutation_over_get_is_405_with_a_coded_error(system):
    mutation = 'mutation { createCategory(input: {name: "%s"}) { id } }' % unique("GET")
    answer = await system.http.get(
        "/graphql",
        params={"query": mutation, "variables": json.dumps({})},
        headers={**JSON, "authorization": f"Bearer {token()}"},
    )
    assert answer.status_code == 405
    assert answer.headers["allow"] == "POST"
    error = answer.json()["errors"][0]
    assert error["extensions"]["code"] == "VALIDATION"
    assert "POST" in error["message"]
    spec = await system.http.get(
        "/graphql",
        params={"query": mutation},
        headers={"accept": "application/graphql-response+json"},
    )
    assert spec.status_code == 405
