"""A payment-provider simulator over HTTP, with faults on demand.

It behaves like a real provider where our code depends on it: a charge is
made once per idempotency key (a repeat answers the first result), a refund
of a key that was never charged answers "nothing to refund". `PUT /control`
makes it decline, slow down, fail with 503, or charge and then hang, so
retries, timeouts and the circuit breaker face a real network hop.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from fastapi import FastAPI, Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel


class Faults(BaseModel):
    """What the simulator does to the next requests; every field is optional."""

    decline_above: int | None = None
    """Decline charges above this amount."""
    decline_customers: list[str] = []
    """Decline charges for these customers."""
    latency_ms: int = 0
    """Added to every charge and refund."""
    outage: bool = False
    """Answer 503 to every charge and refund, charging nothing."""
    hang_after_charge_ms: int = 0
    """Make the charge (once per key), then wait this long before every answer."""


class ChargeRequest(BaseModel):
    amount: int
    customer: str


class RefundRequest(BaseModel):
    idempotency_key: str


@dataclass
class Charge:
    charge_id: str
    key: str
    amount: int
    customer: str
    refunded: bool = False


@dataclass
class Ledger:
    charges: dict[str, Charge] = field(default_factory=dict)
    declines: dict[str, str] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)
    faults: Faults = field(default_factory=Faults)


def _load(books: Path | None) -> Ledger:
    if books is None or not books.exists():
        return Ledger()
    saved = json.loads(books.read_text())
    return Ledger(
        charges={c["key"]: Charge(**c) for c in saved["charges"]}, declines=saved["declines"]
    )


def _save(books: Path | None, ledger: Ledger) -> None:
    if books is not None:
        charges = [asdict(charge) for charge in ledger.charges.values()]
        books.write_text(json.dumps({"charges": charges, "declines": ledger.declines}))


def create_simulator(books: Path | None = None) -> FastAPI:
    """The simulator; with `books`, its charges and declines outlive a restart, as a real
    provider's do (so `shop audit` beside a restarted `./dev` still finds its charges)."""
    app = FastAPI(title="payment provider simulator")
    ledger = _load(books)

    async def delay() -> None:
        if ledger.faults.latency_ms:
            await asyncio.sleep(ledger.faults.latency_ms / 1000)

    @app.post("/v1/charges")
    async def charge(
        request: ChargeRequest, idempotency_key: str = Header(alias="Idempotency-Key")
    ) -> JSONResponse:
        ledger.requests[idempotency_key] = ledger.requests.get(idempotency_key, 0) + 1
        await delay()
        faults = ledger.faults
        if faults.outage:
            return JSONResponse({"error": "unavailable"}, status_code=503)
        if idempotency_key in ledger.declines:
            return _declined(ledger.declines[idempotency_key])
        made = ledger.charges.get(idempotency_key)
        if made is None:
            reason = _decline_reason(faults, request)
            if reason is not None:
                ledger.declines[idempotency_key] = reason
                _save(books, ledger)
                return _declined(reason)
            made = Charge(
                charge_id=f"ch_{uuid.uuid4().hex[:16]}",
                key=idempotency_key,
                amount=request.amount,
                customer=request.customer,
            )
            ledger.charges[idempotency_key] = made
            _save(books, ledger)
        if faults.hang_after_charge_ms:
            await asyncio.sleep(faults.hang_after_charge_ms / 1000)
        return JSONResponse(
            {"id": made.charge_id, "amount": made.amount, "status": "succeeded"}, status_code=201
        )

    @app.post("/v1/refunds")
    async def refund(request: RefundRequest) -> JSONResponse:
        await delay()
        if ledger.faults.outage:
            return JSONResponse({"error": "unavailable"}, status_code=503)
        made = ledger.charges.get(request.idempotency_key)
        if made is None:
            return JSONResponse({"error": "nothing_to_refund"}, status_code=404)
        made.refunded = True
        _save(books, ledger)
        return JSONResponse({"charge": made.charge_id, "status": "refunded"})

    @app.get("/v1/charges")
    async def charges() -> dict[str, object]:
        """Every charge with its refund state, and how many requests each key saw."""
        return {
            "charges": [
                {"key": c.key, "id": c.charge_id, "amount": c.amount, "refunded": c.refunded}
                for c in ledger.charges.values()
            ],
            "requests": ledger.requests,
        }

    @app.put("/control")
    async def control(faults: Faults) -> Faults:
        ledger.faults = faults
        return faults

    @app.get("/healthz")
    @app.get("/readyz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _decline_reason(faults: Faults, request: ChargeRequest) -> str | None:
    if faults.decline_above is not None and request.amount > faults.decline_above:
        return f"amount {request.amount} is above the card's limit"
    if request.customer in faults.decline_customers:
        return "card declined"
    return None


def _declined(reason: str) -> JSONResponse:
    return JSONResponse({"error": "declined", "reason": reason}, status_code=402)
