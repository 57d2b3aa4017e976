"""The GraphQL over HTTP spec (the GraphQL Foundation's), checked by its own conformance
suite: `graphql-http`'s `auditServer`, run in Node against the live API. Every MUST
and every SHOULD passes."""

from __future__ import annotations

import json
from pathlib import Path

from tests.clients.node import npm_installed, run_node
from tests.e2e.test_subscription import served

CLIENTS = Path(__file__).parent


async def test_every_must_and_should_of_the_graphql_over_http_spec_passes(system):
    directory = npm_installed(CLIENTS)
    async with served(system.app) as port:
        printed = await run_node(directory, "audit.mjs", f"http://127.0.0.1:{port}/graphql")
    audits = json.loads(printed)
    assert len(audits) > 30, audits
    missed = [f"{audit['name']}: {audit['reason']}" for audit in audits if audit["status"] != "ok"]
    assert missed == [], "\n".join(missed)
