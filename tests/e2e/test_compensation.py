"""Orders that cannot go through end CANCELLED, with what was done undone."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from domain.fraud import HELD_FOR_REVIEW
from domain.payments import payment_key
from tests.api.catalog_client import error_of, event_count
from tests.orders_client import (
    event_types,
    faults,
    ledger,
    order,
    place,
    stock_of,
    stocked_product,
    stored_events,
    until,
    until_final,
)


@pytest.fixture(autouse=True)
async def healthy_provider(psp_url):
    await faults(psp_url)
    yield
    await faults(psp_url)


async def test_out_of_stock_cancels_and_reserves_nothing(system, engine):
    plenty = await stocked_product(system.gql, stock=10)
    scarce = await stocked_product(system.gql, stock=1)
    body = await place(system.gql, [(plenty["id"], 2), (scarce["id"], 2)])
    final = await until_final(system.gql, body["data"]["createOrder"]["id"])

    assert final["status"] == "CANCELLED"
    saga = final["sagaState"]
    assert (saga["state"], saga["status"], saga["currentStep"]) == (
        "CANCELLED",
        "COMPENSATED",
        None,
    )
    assert "in stock" in saga["failureReason"]
    assert saga["compensations"] == []
    assert await stock_of(system.gql, plenty["id"]) == 10
    assert await stock_of(system.gql, scarce["id"]) == 1
    for product in (plenty, scarce):
        assert "StockReserved" not in await event_types(engine, f"stock-{product['id']}")


async def test_a_declined_payment_releases_the_stock(system, engine, psp_url):
    product = await stocked_product(system.gql, price=5000, stock=3)
    await faults(psp_url, decline_above=4000)
    body = await place(system.gql, [(product["id"], 2)])
    order_id = body["data"]["createOrder"]["id"]
    final = await until_final(system.gql, order_id)

    assert final["status"] == "CANCELLED"
    assert final["sagaState"]["compensations"] == ["RELEASE_STOCK"]
    assert "declined" in final["sagaState"]["failureReason"]
    assert await stock_of(system.gql, product["id"]) == 3
    assert await event_types(engine, f"payment-{order_id}") == ["PaymentDeclined"]
    assert await event_types(engine, f"stock-{product['id']}") == [
        "StockAdded",
        "StockReserved",
        "StockReleased",
    ]


async def test_refused_shipping_refunds_and_releases(system, engine, psp_url):
    product = await stocked_product(system.gql, price=10, stock=100)
    too_many = system.settings.shipping_max_units + 1
    body = await place(system.gql, [(product["id"], too_many)])
    order_id = body["data"]["createOrder"]["id"]
    final = await until_final(system.gql, order_id)

    assert final["status"] == "CANCELLED"
    assert final["sagaState"]["compensations"] == ["REFUND_PAYMENT", "RELEASE_STOCK"]
    assert "carrier" in final["sagaState"]["failureReason"]
    assert await stock_of(system.gql, product["id"]) == 100
    assert await event_types(engine, f"payment-{order_id}") == [
        "PaymentCaptured",
        "PaymentRefunded",
    ]
    assert await event_types(engine, f"shipment-{order_id}") == ["ShipmentRefused"]
    (charge,) = [c for c in (await ledger(psp_url))["charges"] if c["key"] == payment_key(order_id)]
    assert charge["refunded"] is True
    assert await event_types(engine, f"order-{order_id}") == [
        "OrderPlaced",
        "OrderStockReserved",
        "OrderFraudChecked",
        "OrderPaymentProcessed",
        "OrderCompensationStarted",
        "OrderStepCompensated",
        "OrderStepCompensated",
        "OrderCancelled",
    ]


async def test_the_fraud_check_holds_a_first_large_order_and_releases_its_stock(
    system, engine, psp_url
):
    price = system.settings.fraud_review_above // 2 + 1  # two are above the review amount
    product = await stocked_product(system.gql, price=price, stock=5)
    body = await place(system.gql, [(product["id"], 2)], user=f"new-{uuid.uuid4().hex}")
    order_id = body["data"]["createOrder"]["id"]
    final = await until_final(system.gql, order_id)

    assert final["status"] == "CANCELLED"
    assert final["sagaState"]["compensations"] == ["RELEASE_STOCK"]
    # The customer is told it is held; the event says why.
    assert final["sagaState"]["failureReason"] == HELD_FOR_REVIEW
    checked = dict(await stored_events(engine, f"order-{order_id}"))["OrderFraudChecked"]
    assert checked["passed"] is False
    assert checked["reason"].startswith("a first order above")
    assert await stock_of(system.gql, product["id"]) == 5
    assert await event_types(engine, f"payment-{order_id}") == []  # never charged
    assert [
        c for c in (await ledger(psp_url))["charges"] if c["key"] == payment_key(order_id)
    ] == []
    assert await event_types(engine, f"order-{order_id}") == [
        "OrderPlaced",
        "OrderStockReserved",
        "OrderFraudChecked",
        "OrderCompensationStarted",
        "OrderStepCompensated",
        "OrderCancelled",
    ]


async def test_a_returning_customer_passes_the_fraud_check(system, engine):
    customer = f"returning-{uuid.uuid4().hex}"
    price = system.settings.fraud_review_above // 2 + 1
    product = await stocked_product(system.gql, price=price, stock=5)
    first = await place(system.gql, [(product["id"], 1)], user=customer)
    assert (await until_final(system.gql, first["data"]["createOrder"]["id"]))["status"] == (
        "CONFIRMED"
    )
    large = await place(system.gql, [(product["id"], 2)], user=customer)
    final = await until_final(system.gql, large["data"]["createOrder"]["id"])
    assert (final["status"], final["totalAmount"]) == ("CONFIRMED", 2 * price)
    events = dict(await stored_events(engine, f"order-{final['id']}"))
    assert events["OrderFraudChecked"] == {
        "order_id": final["id"],
        "passed": True,
        "reason": "a returning customer",
    }


async def test_a_payment_that_times_out_after_charging_is_refunded(system, psp_url):
    product = await stocked_product(system.gql, stock=2)
    # The provider charges, then answers too late for every attempt.
    await faults(psp_url, hang_after_charge_ms=int(system.settings.psp_timeout_seconds * 3000))
    body = await place(system.gql, [(product["id"], 1)])
    order_id = body["data"]["createOrder"]["id"]
    final = await until_final(system.gql, order_id)

    assert final["status"] == "CANCELLED"
    assert final["sagaState"]["compensations"] == ["REFUND_PAYMENT", "RELEASE_STOCK"]
    assert "did not complete" in final["sagaState"]["failureReason"]
    (charge,) = [c for c in (await ledger(psp_url))["charges"] if c["key"] == payment_key(order_id)]
    assert charge["refunded"] is True
    assert await stock_of(system.gql, product["id"]) == 2


async def test_an_outage_opens_the_breaker_and_orders_succeed_once_it_ends(system, psp_url):
    product = await stocked_product(system.gql, stock=5)
    await faults(psp_url, outage=True)
    body = await place(system.gql, [(product["id"], 1)])
    order_id = body["data"]["createOrder"]["id"]
    await until(system.gql, order_id, lambda o: o["sagaState"]["currentStep"] == "PROCESS_PAYMENT")

    def breaker_open() -> bool:
        sample = system.registry.get_sample_value(
            "psp_circuit_breaker", {"psp_circuit_breaker": "open"}
        )
        return bool(sample == 1.0)

    for _ in range(200):
        if breaker_open():
            break
        await asyncio.sleep(0.05)
    assert breaker_open()
    # The payment deadline passes; the saga turns to refunding a charge that may exist.
    await until(
        system.gql,
        order_id,
        lambda o: o["sagaState"]["currentStep"] == "COMPENSATE_PROCESS_PAYMENT",
    )
    attempts = (await ledger(psp_url))["requests"][payment_key(order_id)]
    # The open breaker kept most retries away from the provider.
    assert (
        system.settings.psp_breaker_failures <= attempts < system.settings.psp_breaker_failures + 8
    )

    await faults(psp_url)  # the provider is back: the refund goes through
    final = await until_final(system.gql, order_id)
    assert final["status"] == "CANCELLED"
    assert final["sagaState"]["compensations"] == ["REFUND_PAYMENT", "RELEASE_STOCK"]
    assert "did not complete" in final["sagaState"]["failureReason"]
    assert not (await ledger(psp_url))["requests"].get(f"{payment_key(order_id)}", 0) > attempts

    body = await place(system.gql, [(product["id"], 1)])
    after = await until_final(system.gql, body["data"]["createOrder"]["id"])
    assert after["status"] == "CONFIRMED"
    assert await stock_of(system.gql, product["id"]) == 4


async def test_cancelling_during_payment_compensates(system, engine, psp_url):
    product = await stocked_product(system.gql, stock=4)
    await faults(psp_url, latency_ms=600)
    body = await place(system.gql, [(product["id"], 3)])
    order_id = body["data"]["createOrder"]["id"]
    await until(system.gql, order_id, lambda o: o["sagaState"]["currentStep"] == "PROCESS_PAYMENT")
    cancelled = await system.gql.data(
        'mutation($id: ID!) { cancelOrder(id: $id, reason: "changed my mind") '
        "{ status sagaState { status failureReason compensations currentStep } } }",
        {"id": order_id},
    )
    assert cancelled["cancelOrder"] == {
        "status": "CANCELLED",
        "sagaState": {
            "status": "COMPENSATED",
            "failureReason": "changed my mind",
            "compensations": ["REFUND_PAYMENT", "RELEASE_STOCK"],
            "currentStep": None,
        },
    }
    assert await stock_of(system.gql, product["id"]) == 4
    charges = [c for c in (await ledger(psp_url))["charges"] if c["key"] == payment_key(order_id)]
    assert all(c["refunded"] for c in charges)


async def test_a_confirmed_order_cannot_be_cancelled(system, engine):
    product = await stocked_product(system.gql, stock=1)
    body = await place(system.gql, [(product["id"], 1)])
    order_id = body["data"]["createOrder"]["id"]
    assert (await until_final(system.gql, order_id))["status"] == "CONFIRMED"

    before = await event_count(engine)
    refused = await system.gql(
        "mutation($id: ID!) { cancelOrder(id: $id) { id } }", {"id": order_id}
    )
    error = error_of(refused)
    assert (error["code"], error["field"]) == ("CONFLICT", "id")
    assert "confirmed" in error["message"]
    assert await event_count(engine) == before
    assert (await order(system.gql, order_id))["status"] == "CONFIRMED"


async def test_cancelling_an_unknown_order(system):
    body = await system.gql('mutation { cancelOrder(id: "nope") { id } }')
    assert error_of(body)["code"] == "NOT_FOUND"
