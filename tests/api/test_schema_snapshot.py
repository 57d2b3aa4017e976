"""The public GraphQL schema is the checked-in `schema.graphql`: any change is a visible diff."""

from __future__ import annotations

from pathlib import Path

from api.graphql.schema import build_schema

SNAPSHOT = Path(__file__).resolve().parents[2] / "schema.graphql"


def test_the_schema_matches_the_checked_in_snapshot():
    printed = build_schema().as_str() + "\n"
    assert printed == SNAPSHOT.read_text(), (
        "the GraphQL schema changed; if that is intended, run "
        "`./dev schema > schema.graphql` and commit the diff (clients read it)"
    )
