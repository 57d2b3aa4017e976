"""Parsed documents are cached by their text, validations by document, variables and
rules; a document that does not parse is still answered with a coded error, and the
variables of a cached document are still costed."""

from __future__ import annotations

from strawberry.extensions.parser_cache import _get_parse_cache

from api.graphql.schema import build_schema
from api.guards import parse_cache as documents
from api.guards.limits import GraphQLLimits
from api.guards.parse_cache import PARSED_DOCUMENTS

SCHEMA = build_schema(limits=GraphQLLimits(max_cost=50))
QUERY = "query($n: Int!) { categories(first: $n) { id } }"


async def test_a_query_text_is_parsed_once():
    parses = _get_parse_cache(PARSED_DOCUMENTS)
    before = parses.cache_info()
    for _ in range(3):
        await SCHEMA.execute("query Parsed { __typename }")
    after = parses.cache_info()
    assert after.hits - before.hits >= 2
    assert after.misses - before.misses <= 1


async def test_a_cached_document_is_costed_with_each_requests_variables():
    """Validation is not cached, or `first: $n` would be costed by its first request."""
    small = await SCHEMA.execute(QUERY, variable_values={"n": 1})
    assert all("cost" not in error.message for error in small.errors or [])
    large = await SCHEMA.execute(QUERY, variable_values={"n": 1000})
    assert large.errors and "over the cost" in large.errors[0].message


async def test_a_document_that_does_not_parse_is_answered_with_a_coded_error():
    for _ in range(2):
        result = await SCHEMA.execute("query { categories(")
        assert result.errors
        assert (result.errors[0].extensions or {}).get("code") == "VALIDATION"
        assert "Syntax Error" in result.errors[0].message


async def test_a_validation_is_run_once_per_document_variables_and_rules(monkeypatch):
    runs: list[object] = []
    real = documents.validate_document

    def counted(schema: object, document: object, rules: object) -> object:
        runs.append(rules)
        return real(schema, document, rules)

    monkeypatch.setattr(documents, "validate_document", counted)
    query = "query Once($n: Int!) { categories(first: $n) { id } }"
    for n in (1, 1, 2, 1, 2):
        # Valid, so it runs (and fails there: this schema has no database behind it).
        result = await SCHEMA.execute(query, variable_values={"n": n})
        assert all(
            (error.extensions or {}).get("code") != "VALIDATION" for error in result.errors or []
        )
    assert len(runs) == 2  # n=1 and n=2, once each
    refused = await SCHEMA.execute(query, variable_values={"n": 1000})
    assert refused.errors and "over the cost" in refused.errors[0].message
    assert len(runs) == 3


async def test_a_validation_is_not_shared_between_schemas_of_other_limits():
    strict = build_schema(limits=GraphQLLimits(max_depth=2))
    deep = "{ categories(first: 1) { products(first: 1) { category { id } } } }"
    lenient = await SCHEMA.execute(deep)
    assert all((e.extensions or {}).get("code") != "VALIDATION" for e in lenient.errors or [])
    refused = await strict.execute(deep)
    assert refused.errors and "exceeds maximum operation depth" in refused.errors[0].message


async def test_long_query_texts_are_neither_parsed_nor_validated_from_memory():
    parses = _get_parse_cache(PARSED_DOCUMENTS)
    kept = len(documents.CachedValidation._known)
    long_query = "#" + "x" * documents.MAX_REMEMBERED_QUERY + "\n{ __typename }"
    before = parses.cache_info().currsize
    result = await SCHEMA.execute(long_query)
    assert result.data == {"__typename": "Query"}
    assert parses.cache_info().currsize == before
    assert len(documents.CachedValidation._known) == kept
