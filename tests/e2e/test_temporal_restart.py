"""The Temporal server restarted under load (on the same SQLite file): every saga
finishes, and a createOrder sent while it is down answers UNAVAILABLE, never a
half-placed order; its retry with the same requestId places the order once."""

from __future__ import annotations

import asyncio
import subprocess
import uuid

from devstack.servers import start_temporal_dev_server, terminate, wait_for_port
from tests.api.catalog_client import error_of
from tests.conftest import free_port, make_settings, running_system
from tests.ops.audit_client import audited, findings_about
from tests.orders_client import faults, place, stocked_product, until_final


async def test_sagas_finish_across_a_temporal_restart(
    database_url, temporal_env, psp_url, tmp_path
):
    port = free_port()

    async def temporal_up() -> subprocess.Popen[bytes]:
        server = start_temporal_dev_server(
            db_file=tmp_path / "temporal.sqlite",
            port=port,
            ui_port=free_port(),
            log_file=tmp_path / "temporal.log",
        )
        await wait_for_port("127.0.0.1", port, within=60, what="the Temporal dev server")
        return server

    server = await temporal_up()
    settings = make_settings(
        database_url,
        f"127.0.0.1:{port}",
        psp_url,
        saga_step_deadline_seconds=120.0,
        payment_deadline_seconds=120.0,
        compensation_deadline_seconds=120.0,
        order_placement_timeout_seconds=5.0,
    )
    try:
        async with running_system(settings, temporal_env) as system:
            product = await stocked_product(system.gql, stock=20)
            await faults(psp_url, latency_ms=500)
            try:
                placed = await asyncio.gather(
                    *(place(system.gql, [(product["id"], 1)]) for _ in range(4))
                )
                terminate([server])
                request_id = f"outage-{uuid.uuid4()}"
                refused = error_of(
                    await place(system.gql, [(product["id"], 1)], request_id=request_id)
                )
                server = await temporal_up()
            finally:
                await faults(psp_url)
            ids = [body["data"]["createOrder"]["id"] for body in placed]
            finals = await asyncio.gather(*(until_final(system.gql, i, within=120) for i in ids))
            retried = (await place(system.gql, [(product["id"], 1)], request_id=request_id))[
                "data"
            ]["createOrder"]
            again = await until_final(system.gql, retried["id"], within=60)

        assert refused["code"] == "UNAVAILABLE" and "retry" in refused["message"]
        assert [f["status"] for f in finals] == ["CONFIRMED"] * 4
        assert again["status"] == "CONFIRMED"
        report = await audited(settings)
        assert findings_about(report, [*ids, retried["id"]]) == [], report.as_text()
    finally:
        terminate([server])
