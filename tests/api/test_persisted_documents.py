"""Documents sent by hash (automatic persisted queries) and the trusted-documents mode,
through the live API, over POST and GET, as Apollo's persisted-query link sends them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from graphql import parse

from api.errors import ApiError
from api.guards.persisted_documents import (
    PersistedDocuments,
    TrustedDocuments,
    canonical,
    sha256_hex,
)
from tests.api.catalog_client import unique
from tests.conftest import make_settings, running_api, temporal_address, token

PRODUCTS = "query Products { products(first: 5) { id name } }"
# As `@graphql-codegen/client-preset` writes it into the manifest: fields sorted,
# `__typename` everywhere, one line.
PRODUCTS_IN_MANIFEST = "query Products { __typename products(first: 5) { __typename id name } }"
CATEGORIES = "query Categories { categories(first: 5) { id } }"


def persisted(digest: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


async def post(http, body: dict[str, Any], bearer: str | None = None) -> dict[str, Any]:
    headers = {} if bearer is None else {"authorization": f"Bearer {bearer}"}
    answer = await http.post("/graphql", json=body, headers=headers)
    result: dict[str, Any] = answer.json()
    return result


async def get(http, params: dict[str, Any], bearer: str | None = None) -> dict[str, Any]:
    headers = {} if bearer is None else {"authorization": f"Bearer {bearer}"}
    query = {
        key: json.dumps(value) if key == "extensions" else value for key, value in params.items()
    }
    answer = await http.get("/graphql", params=query, headers=headers)
    result: dict[str, Any] = answer.json()
    return result


def code(answer: dict[str, Any]) -> str:
    code: str = answer["errors"][0]["extensions"]["code"]
    return code


# The canonical form and the manifest, without a server.


def test_two_writings_of_one_document_have_one_canonical_form():
    written_by_hand = """
        query Products {
          products(first: 5) { name, id }
        }
    """
    assert canonical(parse(written_by_hand)) == canonical(parse(PRODUCTS_IN_MANIFEST))
    other = "query Products { products(first: 6) { __typename id name } }"
    assert canonical(parse(other)) != canonical(parse(PRODUCTS_IN_MANIFEST))
    aliased = "query Products { products(first: 5) { t: __typename id name } }"
    assert canonical(parse(aliased)) != canonical(parse(PRODUCTS_IN_MANIFEST))


def test_arguments_variables_and_fragments_are_put_in_order():
    one = """
        query Q($b: Int, $a: ID) { product(id: $a) { ...F } products(first: $b) { id } }
        fragment F on Product { price name }
    """
    other = """
        fragment F on Product { name price }
        query Q($a: ID, $b: Int) { products(first: $b) { id __typename } product(id: $a) { ...F } }
    """
    assert canonical(parse(one)) == canonical(parse(other))


def test_a_manifest_key_must_be_the_hash_of_its_document(tmp_path: Path):
    good = tmp_path / "good.json"
    good.write_text(
        json.dumps({f"sha256:{sha256_hex(PRODUCTS)}": PRODUCTS, sha256_hex(CATEGORIES): CATEGORIES})
    )
    loaded = TrustedDocuments.load(good)
    assert set(loaded.by_hash) == {sha256_hex(PRODUCTS), sha256_hex(CATEGORIES)}
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps({f"sha256:{sha256_hex(PRODUCTS)}": CATEGORIES}))
    with pytest.raises(ValueError, match="not the SHA-256"):
        TrustedDocuments.load(forged)
    for text in ("[]", "{}", "not json"):
        (tmp_path / "bad.json").write_text(text)
        with pytest.raises(ValueError):
            TrustedDocuments.load(tmp_path / "bad.json")


@pytest.mark.parametrize(
    "extensions",
    [
        {"persistedQuery": "abc"},
        {"persistedQuery": {"version": 2, "sha256Hash": "0" * 64}},
        {"persistedQuery": {"version": 1}},
        {"persistedQuery": {"version": 1, "sha256Hash": "XYZ"}},
        {"persistedQuery": {"version": 1, "sha256Hash": "A" * 64}},
    ],
)
def test_a_malformed_persisted_query_is_refused(extensions):
    with pytest.raises(ApiError) as refused:
        PersistedDocuments(max_bytes=10_000).resolve(None, extensions)
    assert refused.value.field == "persistedQuery"


def test_the_store_keeps_within_its_budget():
    documents = PersistedDocuments(max_bytes=50_000)
    for n in range(2_000):
        text = "query { products(first: %d) { id name price } }" % n
        documents.remember(sha256_hex(text), text)
    assert documents.remembered.bytes <= 50_000
    assert 0 < len(documents.remembered) < 2_000
    large = "query { __typename }" + " " * 20_000
    documents.remember(sha256_hex(large), large)
    assert documents.text_for(sha256_hex(large)) is None


# Automatic persisted queries, through the live API.


@pytest.mark.parametrize("send", [post, get], ids=["POST", "GET"])
async def test_an_unknown_hash_is_not_found_then_known_once_sent_with_its_text(system, send):
    text = "query Apq { products(first: 3) { id name } } # %s" % unique("apq")
    digest = sha256_hex(text)
    unknown = await send(system.http, {"extensions": persisted(digest)})
    assert code(unknown) == "PERSISTED_QUERY_NOT_FOUND"
    assert unknown["errors"][0]["message"] == "PersistedQueryNotFound"

    first = await send(system.http, {"query": text, "extensions": persisted(digest)})
    assert "errors" not in first, first
    by_hash = await send(system.http, {"extensions": persisted(digest)})
    assert by_hash == first


async def test_a_hash_that_is_not_its_texts_is_refused_and_not_remembered(system):
    text = "query Lie { products(first: 1) { id } } # %s" % unique("lie")
    other = sha256_hex(text + " ")
    refused = await post(system.http, {"query": text, "extensions": persisted(other)})
    assert code(refused) == "VALIDATION"
    assert refused["errors"][0]["extensions"]["field"] == "persistedQuery"
    assert "data" not in refused or refused["data"] is None
    later = await post(system.http, {"extensions": persisted(other)})
    assert code(later) == "PERSISTED_QUERY_NOT_FOUND"


async def test_a_document_that_fails_validation_is_not_remembered(system):
    text = "query Bad { noSuchField } # %s" % unique("bad")
    digest = sha256_hex(text)
    refused = await post(system.http, {"query": text, "extensions": persisted(digest)})
    assert code(refused) == "VALIDATION"
    later = await post(system.http, {"extensions": persisted(digest)})
    assert code(later) == "PERSISTED_QUERY_NOT_FOUND"


async def test_a_mutation_by_hash_runs_over_post_and_not_over_get(system):
    text = "mutation Named($name: String!) { createCategory(input: {name: $name}) { name } }"
    digest = sha256_hex(text)
    bearer = token()
    name = unique("By hash")
    created = await post(
        system.http,
        {"query": text, "variables": {"name": name}, "extensions": persisted(digest)},
        bearer,
    )
    assert created["data"]["createCategory"]["name"] == name
    again = unique("By hash")
    by_hash = await post(
        system.http, {"variables": {"name": again}, "extensions": persisted(digest)}, bearer
    )
    assert by_hash["data"]["createCategory"]["name"] == again
    over_get = await system.http.get(
        "/graphql",
        params={
            "variables": json.dumps({"name": unique("GET")}),
            "extensions": json.dumps(persisted(digest)),
        },
        headers={"authorization": f"Bearer {bearer}"},
    )
    assert over_get.status_code == 405
    assert over_get.json()["errors"][0]["extensions"]["code"] == "VALIDATION"


# Trusted documents.


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "persisted-documents.json"
    path.write_text(
        json.dumps({f"sha256:{sha256_hex(PRODUCTS_IN_MANIFEST)}": PRODUCTS_IN_MANIFEST})
    )
    return path


async def trusted_api(database_url, temporal_env, psp_url, manifest: Path, **overrides: Any):
    settings = make_settings(
        database_url,
        temporal_address(temporal_env),
        psp_url,
        graphql_trusted_documents=manifest,
        **overrides,
    )
    return running_api(settings)


async def test_trusted_mode_runs_only_the_manifests_documents(
    database_url, temporal_env, psp_url, manifest
):
    customer = token("trusted-customer", role="customer")
    async with await trusted_api(database_url, temporal_env, psp_url, manifest) as api:
        by_hash = await post(api.http, {"extensions": persisted(sha256_hex(PRODUCTS_IN_MANIFEST))})
        assert "errors" not in by_hash, by_hash
        # The same document as a client writes it: fields in its order, no __typename.
        as_written = await post(api.http, {"query": PRODUCTS}, customer)
        assert "errors" not in as_written, as_written
        assert [p["id"] for p in as_written["data"]["products"]] == [
            p["id"] for p in by_hash["data"]["products"]
        ]

        outside = await post(api.http, {"query": CATEGORIES}, customer)
        assert code(outside) == "FORBIDDEN"
        assert outside["data"] is None
        unknown = await post(api.http, {"extensions": persisted(sha256_hex(CATEGORIES))})
        assert code(unknown) == "PERSISTED_QUERY_NOT_FOUND"
        with_its_hash = await get(
            api.http, {"query": CATEGORIES, "extensions": persisted(sha256_hex(CATEGORIES))}
        )
        assert code(with_its_hash) == "FORBIDDEN"
        # Admins are held to the manifest too unless a setting frees them.
        as_admin = await post(api.http, {"query": CATEGORIES}, token())
        assert code(as_admin) == "FORBIDDEN"


async def test_admins_may_send_any_document_when_the_setting_says_so(
    database_url, temporal_env, psp_url, manifest
):
    async with await trusted_api(
        database_url,
        temporal_env,
        psp_url,
        manifest,
        graphql_trusted_documents_admins_may_send_any=True,
    ) as api:
        admin = token()
        digest = sha256_hex(CATEGORIES)
        sent = await post(api.http, {"query": CATEGORIES, "extensions": persisted(digest)}, admin)
        assert "errors" not in sent, sent
        # Remembered by hash, but still not a document anyone else may run.
        customer = token("trusted-customer", role="customer")
        for bearer in (customer, None):
            refused = await post(api.http, {"extensions": persisted(digest)}, bearer)
            assert code(refused) == "FORBIDDEN"
        again = await post(api.http, {"extensions": persisted(digest)}, admin)
        assert again == sent
