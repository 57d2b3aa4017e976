"""Every event records who caused it and why: the metadata travels from the request."""

from __future__ import annotations

import sqlalchemy as sa

from tests.api.catalog_client import unique
from tests.conftest import token


async def test_events_carry_the_tokens_actor_and_tenant_and_the_requests_correlation(
    system, engine
):
    # Headers naming someone else mean nothing once a token says who is calling.
    headers = {"x-correlation-id": "corr-42", "x-actor": "mallory", "x-tenant-id": "evil"}
    body = await system.gql.as_user(token("alice", tenant="acme"))(
        "mutation($n: String!) { createCategory(input: {name: $n}) { id } }",
        {"n": unique("Meta")},
        **headers,
    )
    category_id = body["data"]["createCategory"]["id"]
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.text(
                    "SELECT stream_id, metadata, correlation_id FROM eventstore.events "
                    "WHERE correlation_id = 'corr-42' ORDER BY position"
                )
            )
        ).all()
    # The name claim and the category itself: two streams, one command.
    assert {row.stream_id for row in rows} >= {f"category-{category_id}"}
    assert len(rows) == 2
    for row in rows:
        metadata = row.metadata
        assert metadata["actor"] == "alice"
        assert metadata["tenant_id"] == "acme"
        assert metadata["correlation_id"] == "corr-42"
        assert metadata["causation_id"] == metadata["command_id"]
    assert len({row.metadata["command_id"] for row in rows}) == 1
