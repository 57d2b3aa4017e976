"""The saga's bookkeeping failing for good never leaves an order half-done.

PostgreSQL itself refuses an event of the saga's bookkeeping here (a trigger
raising a data error, as bad data would), through the real API, worker and
database; the compensations still run, the order still ends, and `shop audit`
finds nothing amiss.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from temporalio.client import WorkflowExecutionStatus

import bootstrap
from database import create_engine
from tests.ops.audit_client import audited
from tests.orders_client import faults, place, stock_of, stocked_product, until_final
from workflows.order_saga import UNRECORDED_REASON


def refusing(condition: str) -> list[str]:
    """Statements that make PostgreSQL refuse, as bad data, every event matching `condition`."""
    return [
        "CREATE FUNCTION public.refuse_event() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "RAISE EXCEPTION 'refused by the test' USING ERRCODE = '22023'; END $$",
        "CREATE TRIGGER refuse_event BEFORE INSERT ON eventstore.events FOR EACH ROW "
        f"WHEN ({condition}) EXECUTE FUNCTION public.refuse_event()",
    ]


@pytest.mark.parametrize(
    ("refused", "status", "saga_status"),
    [
        ("NEW.event_type = 'OrderCompensationStarted'", "CANCELLED", "COMPENSATED"),
        (
            "NEW.event_type = 'OrderCancelled' AND NEW.data->>'reason' <> "
            + "'"
            + UNRECORDED_REASON.replace("'", "''")
            + "'",
            "CANCELLED",
            "COMPENSATED",
        ),
        ("NEW.event_type = 'OrderCancelled'", "FAILED", "FAILED"),
    ],
    ids=["recording the start", "the close's reason", "every close as CANCELLED"],
)
async def test_bookkeeping_that_fails_for_good_leaves_nothing_half_done(
    empty_system, psp_url, refused, status, saga_status
):
    system, settings = empty_system, empty_system.settings
    owner = create_engine(settings.require_database_owner_url(), pool_size=1)
    product = await stocked_product(system.gql, stock=3)
    async with owner.begin() as conn:
        for statement in refusing(refused):
            await conn.execute(sa.text(statement))
    await faults(psp_url, decline_customers=["declined-user"])
    try:
        body = await place(system.gql, [(product["id"], 2)], user="declined-user")
        order_id = body["data"]["createOrder"]["id"]
        final = await until_final(system.gql, order_id)
    finally:
        await faults(psp_url)

    assert (final["status"], final["sagaState"]["status"]) == (status, saga_status)
    assert final["sagaState"]["compensations"] == ["RELEASE_STOCK"]
    assert await stock_of(system.gql, product["id"]) == 3  # released, whatever the books said
    temporal = await bootstrap.temporal_client(settings)
    described = await temporal.get_workflow_handle(f"order-{order_id}").describe()
    expected = (
        WorkflowExecutionStatus.FAILED if status == "FAILED" else WorkflowExecutionStatus.COMPLETED
    )
    assert described.status == expected
    await owner.dispose()
    report = await audited(settings)
    assert report.ok, report.as_text()
