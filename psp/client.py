"""Our client of the payment provider: timeouts, idempotency keys, a circuit breaker."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import httpx
from circuitbreaker import CircuitBreaker, CircuitBreakerError
from prometheus_client import CollectorRegistry
from prometheus_client import Enum as EnumMetric


class ChargeDeclined(Exception):
    """The provider refused the charge for good (a business answer)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ProviderUnavailable(Exception):
    """The provider did not answer usefully: a timeout, a 5xx, or the breaker is open.

    The charge may or may not have been made; retry with the same key.
    """


@dataclass(frozen=True)
class ChargeMade:
    charge_id: str
    amount: int


class PaymentProvider(Protocol):
    async def charge(self, *, key: str, amount: int, customer: str) -> ChargeMade: ...

    async def refund(self, *, key: str) -> bool:
        """Refund the charge made under `key`; False when there was nothing to refund."""
        ...


class HttpPaymentProvider:
    """The provider over HTTP.

    Every call has its own timeout. Consecutive faults open the breaker for
    `recovery_seconds`, during which calls fail at once instead of piling up
    on a provider that is down; declines are answers, not faults.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        timeout_seconds: float,
        failure_threshold: int,
        recovery_seconds: float,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self._client = client
        self._timeout = timeout_seconds
        self._breaker = CircuitBreaker(
            failure_threshold=failure_threshold,
            recovery_timeout=recovery_seconds,
            expected_exception=ProviderUnavailable,
            name="psp",
        )
        self._state = EnumMetric(
            "psp_circuit_breaker",
            "State of the circuit breaker around the payment provider.",
            states=["closed", "open", "half_open"],
            registry=registry,
        )

    async def charge(self, *, key: str, amount: int, customer: str) -> ChargeMade:
        response = await self._call(
            "/v1/charges",
            json={"amount": amount, "customer": customer},
            headers={"Idempotency-Key": key},
        )
        if response.status_code == 402:
            raise ChargeDeclined(response.json().get("reason", "declined"))
        body = response.json()
        return ChargeMade(charge_id=body["id"], amount=body["amount"])

    async def refund(self, *, key: str) -> bool:
        response = await self._call("/v1/refunds", json={"idempotency_key": key})
        return response.status_code != 404

    async def _call(
        self, path: str, *, json: dict[str, object], headers: dict[str, str] | None = None
    ) -> httpx.Response:
        try:
            response: httpx.Response = await self._breaker.call_async(
                self._post, path, json, headers or {}
            )
        except CircuitBreakerError as error:
            raise ProviderUnavailable("circuit breaker open") from error
        finally:
            self._state.state(self._breaker.state)
        return response

    async def _post(
        self, path: str, json: dict[str, object], headers: dict[str, str]
    ) -> httpx.Response:
        try:
            response = await self._client.post(
                path, json=json, headers=headers, timeout=self._timeout
            )
        except httpx.HTTPError as error:
            raise ProviderUnavailable(f"{type(error).__name__}: {error}") from error
        if response.status_code >= 500:
            raise ProviderUnavailable(f"provider answered {response.status_code}")
        if response.status_code not in (200, 201, 402, 404):
            raise ProviderUnavailable(f"unexpected answer {response.status_code}: {response.text}")
        return response


@dataclass(frozen=True)
class LedgerCharge:
    """A charge as the provider's books hold it."""

    key: str
    charge_id: str
    amount: int
    refunded: bool


async def provider_ledger(
    client: httpx.AsyncClient, *, timeout_seconds: float
) -> list[LedgerCharge]:
    """Every charge the provider holds (`GET /v1/charges`), for `shop audit` to reconcile.

    Real providers page this list (Stripe's "list charges", say); the simulator
    answers it whole.
    """
    response = await client.get("/v1/charges", timeout=timeout_seconds)
    response.raise_for_status()
    return [
        LedgerCharge(
            key=charge["key"],
            charge_id=charge["id"],
            amount=charge["amount"],
            refunded=charge["refunded"],
        )
        for charge in response.json()["charges"]
    ]
