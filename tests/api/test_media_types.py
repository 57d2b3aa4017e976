"""GraphQL over HTTP's media types: the spec's own on request, `application/json` kept."""

from __future__ import annotations

import pytest
from graphql import GraphQLError
from strawberry.types import ExecutionResult

from api.http.media_types import GRAPHQL_RESPONSE, JSON, is_request_error, response_media_type

SPEC = {"accept": GRAPHQL_RESPONSE}


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, JSON),
        ("", JSON),
        ("*/*", JSON),
        ("text/html", JSON),
        (JSON, JSON),
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
        ("Application/GraphQL-Response+JSON", GRAPHQL_RESPONSE),
        # Apollo Client 4's default.
        (f"{GRAPHQL_RESPONSE},{JSON};q=0.9", GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE};q=0.5, {JSON}", JSON),
        (f"{GRAPHQL_RESPONSE};q=0", JSON),
        (f"{GRAPHQL_RESPONSE};q=nonsense", JSON),
        (f"{GRAPHQL_RESPONSE};q=7", JSON),
        (f"{JSON}, {GRAPHQL_RESPONSE}", GRAPHQL_RESPONSE),
        (";;;,,,", JSON),
    ],
)
def test_the_spec_media_type_only_when_the_caller_prefers_it(accept, chosen):
    assert response_media_type(accept) == chosen


def test_a_request_error_has_no_data_and_no_error_with_a_path():
    refused = GraphQLError("Syntax Error")
    field_error = GraphQLError("no", path=["order"])
    assert is_request_error(ExecutionResult(data=None, errors=[refused]))
    assert not is_request_error(ExecutionResult(data=None, errors=[field_error]))
    assert not is_request_error(ExecutionResult(data={"order": None}, errors=[field_error]))
    assert not is_request_error(ExecutionResult(data={"x": 1}, errors=None))


async def test_under_the_spec_media_type_a_refused_document_is_400_with_no_data(system):
    for body in (
        {"query": "{ products("},
        {"query": "{ noSuchField }"},
        {"query": "query($n: Int!) { products(first: $n) { id } }", "variables": {"n": "x"}},
    ):
        answer = await system.http.post("/graphql", json=body, headers=SPEC)
        assert answer.status_code == 400, answer.text
        assert answer.headers["content-type"].startswith(GRAPHQL_RESPONSE)
        assert "data" not in answer.json()
        assert answer.json()["errors"][0]["extensions"]["code"]


async def test_under_application_json_a_refused_document_is_200_as_before(system):
    answer = await system.http.post("/graphql", json={"query": "{ noSuchField }"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith(JSON)
    assert answer.json()["data"] is None


async def test_under_the_spec_media_type_an_error_while_running_is_200_with_data(system):
    query = '{ order(id: "00000000-0000-0000-0000-000000000000") { id } }'
    answer = await system.http.post("/graphql", json={"query": query}, headers=SPEC)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert "data" in answer.json()
    assert answer.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
