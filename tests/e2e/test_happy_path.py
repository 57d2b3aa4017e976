"""An order that goes through: the seed's createOrder example."""

from __future__ import annotations

import asyncio
import uuid

from domain.payments import payment_key
from tests.orders_client import (
    event_types,
    ledger,
    place,
    stock_of,
    stocked_product,
    until_final,
)
from workflows.contracts import STATE_QUERY, SagaSnapshot, SagaStatus

# The seed's example, as written (ids aside).
SEED_CREATE_ORDER = (
    'mutation { createOrder(input: { userId: "user-123", items: [{ productId: "<id>", quantity: 1 }] }) {'  # noqa: E501 (kept whole, as the seed writes it)
    """
  id status totalAmount
  sagaState { state status currentStep startedAt completedAt }
  items { productId productName quantity price subtotal } } }"""
)


async def test_the_seed_example_reaches_confirmed(system, engine, psp_url):
    product = await stocked_product(system.gql, price=299000, stock=5)
    created = (await system.gql.data(SEED_CREATE_ORDER.replace("<id>", product["id"])))[
        "createOrder"
    ]
    assert created["status"] in {"PENDING", "STOCK_RESERVED"}
    assert created["totalAmount"] == 299000
    assert created["sagaState"]["status"] == "RUNNING"
    assert created["sagaState"]["startedAt"]
    assert created["items"] == [
        {
            "productId": product["id"],
            "productName": "Widget",
            "quantity": 1,
            "price": 299000,
            "subtotal": 299000,
        }
    ]

    final = await until_final(system.gql, created["id"])
    assert final["status"] == "CONFIRMED"
    assert final["sagaState"] == {
        "state": "CONFIRMED",
        "status": "COMPLETED",
        "currentStep": None,
        "startedAt": created["sagaState"]["startedAt"],
        "completedAt": final["sagaState"]["completedAt"],
        "failureReason": None,
        "compensations": [],
    }
    assert final["sagaState"]["completedAt"] >= final["sagaState"]["startedAt"]
    assert await stock_of(system.gql, product["id"]) == 4

    order_id = created["id"]
    assert await event_types(engine, f"order-{order_id}") == [
        "OrderPlaced",
        "OrderStockReserved",
        "OrderFraudChecked",
        "OrderPaymentProcessed",
        "OrderShippingArranged",
        "OrderConfirmed",
    ]
    # Confirmed: the reservation became a sale, and the stock stops remembering it.
    assert (await event_types(engine, f"stock-{product['id']}"))[-2:] == [
        "StockReserved",
        "StockSettled",
    ]
    assert await event_types(engine, f"payment-{order_id}") == ["PaymentCaptured"]
    assert await event_types(engine, f"shipment-{order_id}") == ["ShipmentArranged"]
    charges = [c for c in (await ledger(psp_url))["charges"] if c["key"] == payment_key(order_id)]
    assert [(c["amount"], c["refunded"]) for c in charges] == [(299000, False)]


async def test_total_amount_is_the_sum_of_subtotals(system):
    first = await stocked_product(system.gql, price=1200)
    second = await stocked_product(system.gql, price=350)
    body = await place(system.gql, [(first["id"], 2), (second["id"], 3)])
    created = body["data"]["createOrder"]
    assert created["totalAmount"] == 2 * 1200 + 3 * 350
    assert [item["subtotal"] for item in created["items"]] == [2400, 1050]
    assert (await until_final(system.gql, created["id"]))["status"] == "CONFIRMED"


async def test_operators_find_orders_by_search_attributes_and_query_the_saga(system, temporal_env):
    product = await stocked_product(system.gql, stock=1)
    user = f"user-{uuid.uuid4()}"
    order_id = (await place(system.gql, [(product["id"], 1)], user=user))["data"]["createOrder"][
        "id"
    ]
    await until_final(system.gql, order_id)
    client = temporal_env.client

    found = []
    for _ in range(100):  # visibility is eventually consistent
        query = f'CustomerId = "{user}" AND OrderStatus = "CONFIRMED"'
        found = [w async for w in client.list_workflows(query)]
        if found:
            break
        await asyncio.sleep(0.05)
    assert [w.id for w in found] == [f"order-{order_id}"]
    description = await client.get_workflow_handle(f"order-{order_id}").describe()
    memo = await description.memo()
    assert memo["userId"] == user
    assert memo["totalAmount"] == 1000

    snapshot = await client.get_workflow_handle(f"order-{order_id}").query(
        STATE_QUERY, result_type=SagaSnapshot
    )
    assert (snapshot.status, snapshot.state.value) == (SagaStatus.COMPLETED, "CONFIRMED")


async def test_every_workflow_task_records_the_build_that_ran_it(system, temporal_env):
    """Unversioned (WORKER_VERSIONING off), the build id is still there for an operator."""
    product = await stocked_product(system.gql, stock=1)
    order_id = (await place(system.gql, [(product["id"], 1)]))["data"]["createOrder"]["id"]
    await until_final(system.gql, order_id)
    history = await temporal_env.client.get_workflow_handle(f"order-{order_id}").fetch_history()
    builds = {
        (
            event.workflow_task_completed_event_attributes.worker_deployment_name,
            event.workflow_task_completed_event_attributes.worker_version.build_id,
        )
        for event in history.events
        if event.HasField("workflow_task_completed_event_attributes")
    }
    expected = (system.settings.worker_deployment, system.settings.worker_build_id)
    assert builds == {expected}
