"""`shop audit` against the real system: silent when the books agree, and naming each
kind of damage an operator could meet when they do not."""

from __future__ import annotations

import json

import httpx
import sqlalchemy as sa

import bootstrap
from database import create_engine
from domain.payments import payment_key
from ops.audit import AuditReport, Invariant
from tests.cli.test_cli import shop
from tests.conftest import settings_env
from tests.ops.audit_client import audited
from tests.orders_client import faults, place, stocked_product, until, until_final


def about(report: AuditReport) -> set[tuple[Invariant, str]]:
    return {(finding.invariant, finding.subject) for finding in report.findings}


async def test_the_books_of_a_working_shop_agree_and_damage_is_named(empty_system, psp_url):
    system, settings = empty_system, empty_system.settings
    product = await stocked_product(system.gql, price=500, stock=10)
    confirmed = (await place(system.gql, [(product["id"], 2)]))["data"]["createOrder"]["id"]
    await faults(psp_url, decline_customers=["poor-user"])
    declined = (await place(system.gql, [(product["id"], 1)], user="poor-user"))["data"][
        "createOrder"
    ]["id"]
    assert (await until_final(system.gql, confirmed))["status"] == "CONFIRMED"
    assert (await until_final(system.gql, declined))["status"] == "CANCELLED"
    await faults(psp_url)

    report = await audited(settings, with_ledger=True)
    assert report.ok, report.as_text()
    assert report.counted["orders"] == 2 and report.counted["events"] >= 10
    assert report.counted["charges"] >= 1 and report.skipped == []
    # No projector runs here: its lag must not count against the books.
    env = {**settings_env(settings), "PROJECTOR_MAX_LAG_SECONDS": "3600"}
    code, output = await shop(env, "audit", "--json")
    assert code == 0, output
    assert json.loads(output[output.index("{") :])["ok"] is True

    # An order whose saga an operator terminated mid-payment is half-done.
    await faults(psp_url, latency_ms=1500)
    stuck = (await place(system.gql, [(product["id"], 1)]))["data"]["createOrder"]["id"]
    await until(system.gql, stuck, lambda o: o["sagaState"]["currentStep"] == "PROCESS_PAYMENT")
    temporal = await bootstrap.temporal_client(settings)
    await temporal.get_workflow_handle(f"order-{stuck}").terminate("an operator's mistake")
    await faults(psp_url)
    # The provider refunded a confirmed order's charge behind our back.
    async with httpx.AsyncClient(base_url=psp_url) as psp:
        refund = await psp.post("/v1/refunds", json={"idempotency_key": payment_key(confirmed)})
        refund.raise_for_status()
    # Someone edited the read model by hand.
    owner = create_engine(settings.require_database_owner_url(), pool_size=1)
    async with owner.begin() as conn:
        await conn.execute(
            sa.text("UPDATE read.products SET stock = stock + 5 WHERE id = :id"),
            {"id": product["id"]},
        )
    await owner.dispose()

    report = await audited(settings, with_ledger=True)
    assert not report.ok
    assert about(report) >= {
        (Invariant.ORDERS, f"order {stuck}"),
        (Invariant.MONEY, f"order {confirmed}"),
        (Invariant.STOCK, f"product {product['id']}"),
        (Invariant.PROJECTIONS, "products (read.products)"),
    }, report.as_text()
    [terminated] = [f for f in report.findings if f.subject == f"order {stuck}"]
    assert "TERMINATED in Temporal" in terminated.problem
    code, output = await shop(env, "audit")
    assert code == 1
    assert "findings:" in output and f"order {confirmed}" in output
