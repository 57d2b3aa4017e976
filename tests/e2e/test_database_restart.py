"""PostgreSQL restarted under load: every acknowledged order finishes, nothing is lost,
`/readyz` goes red then green, and `shop audit` finds the books in order."""

from __future__ import annotations

import asyncio

from devstack.servers import EmbeddedPostgres
from tests.conftest import make_settings, prepared_postgres, running_system
from tests.ops.audit_client import audited
from tests.orders_client import faults, place, stocked_product, until_final


async def test_orders_survive_a_database_restart_mid_load(tmp_path, temporal_env, psp_url):
    data = tmp_path / "pg"
    server, owner_url = await prepared_postgres(data)
    try:
        # Deadlines longer than the outage: the sagas are to wait it out, not give up.
        settings = make_settings(
            owner_url,
            temporal_env.client.service_client.config.target_host,
            psp_url,
            saga_step_deadline_seconds=60.0,
            payment_deadline_seconds=60.0,
            compensation_deadline_seconds=60.0,
        )
        async with running_system(settings, temporal_env) as system:
            product = await stocked_product(system.gql, stock=20)
            await faults(psp_url, latency_ms=400)  # sagas are mid-payment when it goes
            try:
                placed = await asyncio.gather(
                    *(place(system.gql, [(product["id"], 1)]) for _ in range(8))
                )
                server.stop()
                down = await system.http.get("/readyz")
                server = EmbeddedPostgres(data)
                await faults(psp_url)
                acknowledged = [b["data"]["createOrder"]["id"] for b in placed if b.get("data")]
                finals = await asyncio.gather(
                    *(until_final(system.gql, i, within=90) for i in acknowledged)
                )
                up = await system.http.get("/readyz")
            finally:
                await faults(psp_url)
        assert down.status_code == 503 and down.json()["database"].startswith("unavailable")
        assert up.status_code == 200
        assert len(acknowledged) == 8
        assert [f["status"] for f in finals] == ["CONFIRMED"] * 8

        report = await audited(settings)
        assert report.ok, report.as_text()
    finally:
        server.stop()
