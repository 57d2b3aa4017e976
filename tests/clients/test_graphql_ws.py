"""`orderUpdated` through `graphql-ws`, the reference client of graphql-transport-ws,
in Node: the client Apollo's `GraphQLWsLink`, urql and Relay set-ups all use."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.clients.node import npm_installed, run_node
from tests.conftest import token
from tests.e2e.test_subscription import served
from tests.orders_client import stocked_product

CLIENTS = Path(__file__).parent


async def follow(port: int, **request: str) -> dict[str, Any]:
    directory = npm_installed(CLIENTS)
    urls = {"http": f"http://127.0.0.1:{port}/graphql", "ws": f"ws://127.0.0.1:{port}/graphql"}
    printed = await run_node(directory, "follow_order.mjs", json.dumps({**urls, **request}))
    answer: dict[str, Any] = json.loads(printed)
    return answer


async def test_the_reference_client_follows_an_order_to_confirmed(system):
    product = await stocked_product(system.gql)
    async with served(system.app) as port:
        followed = await follow(port, token=token(), productId=product["id"])
    updates = followed["updates"]
    assert updates, followed
    assert {update["orderId"] for update in updates} == {followed["orderId"]}
    versions = [update["version"] for update in updates]
    assert versions == sorted(set(versions)), versions
    assert updates[-1]["status"] == "CONFIRMED", updates


async def test_the_reference_client_is_refused_without_a_token_and_told_why(system):
    async with served(system.app) as port:
        followed = await follow(port, token="")
    assert followed["updates"] == []
    assert followed["closed"]["code"] == 4403, followed
    assert "token" in followed["closed"]["reason"].lower(), followed
