"""A compensation that cannot be done in time ends the order FAILED, for an operator."""

from __future__ import annotations

from temporalio.client import WorkflowExecutionStatus

from tests.conftest import make_settings, running_system
from tests.orders_client import faults, place, stocked_product, until_final


async def test_a_compensation_past_its_deadline_fails_the_order_and_the_workflow(
    database_url, temporal_env, psp_url
):
    settings = make_settings(
        database_url,
        temporal_env.client.service_client.config.target_host,
        psp_url,
        payment_deadline_seconds=1.5,
        compensation_deadline_seconds=1.5,
    )
    async with running_system(settings, temporal_env) as system:
        product = await stocked_product(system.gql, stock=3)
        await faults(psp_url, outage=True)
        try:
            body = await place(system.gql, [(product["id"], 1)])
            order_id = body["data"]["createOrder"]["id"]
            final = await until_final(system.gql, order_id)
        finally:
            await faults(psp_url)

    saga = final["sagaState"]
    assert final["status"] == "FAILED"
    assert (saga["status"], saga["state"], saga["currentStep"]) == ("FAILED", "FAILED", None)
    assert "REFUND_PAYMENT failed" in saga["failureReason"]
    assert saga["compensations"] == []
    description = await temporal_env.client.get_workflow_handle(f"order-{order_id}").describe()
    assert description.status == WorkflowExecutionStatus.FAILED
