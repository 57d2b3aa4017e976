"""What `shop audit` reports: findings, each under the invariant it breaks."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from enum import StrEnum


class Invariant(StrEnum):
    """The books `shop audit` keeps; docs/operations.md ("Auditing the books") says what
    to do about each."""

    LOG = "log"
    STOCK = "stock"
    MONEY = "money"
    ORDERS = "orders"
    PROJECTIONS = "projections"


MEANING = {
    Invariant.LOG: "every stream's versions run 1, 2, 3 ...; each command was applied in "
    "one transaction",
    Invariant.STOCK: "added - reserved + released is each event's level, never below zero, "
    "and the products read model's stock; no CANCELLED order holds stock",
    Invariant.MONEY: "each charge captured belongs to a CONFIRMED order or was refunded; each "
    "CONFIRMED order was charged; the provider's ledger agrees with the payment events",
    Invariant.ORDERS: "each order is CONFIRMED, CANCELLED or FAILED, or its saga is running "
    "in Temporal and has moved within its deadline; the read model says what the events say",
    Invariant.PROJECTIONS: "each read model equals a fresh rebuild from the events; "
    "asynchronous ones trail the log by no more than their allowed lag",
}


@dataclass(frozen=True)
class Finding:
    invariant: Invariant
    tenant: str
    subject: str
    """What is wrong: a product, an order, a stream, a projection's table."""
    problem: str


@dataclass
class AuditReport:
    findings: list[Finding] = field(default_factory=list)
    counted: Counter[str] = field(default_factory=Counter)
    """What was checked: events, products, orders, charges, workflows, read-model rows."""
    skipped: list[str] = field(default_factory=list)
    """Checks that could not run (a source that was not reachable), and why."""

    @property
    def ok(self) -> bool:
        return not self.findings

    def add(self, invariant: Invariant, tenant: str, subject: str, problem: str) -> None:
        self.findings.append(Finding(invariant, tenant, subject, problem))

    def as_json(self) -> str:
        return json.dumps(
            {
                "ok": self.ok,
                "findings": [asdict(finding) for finding in self.findings],
                "counted": dict(self.counted),
                "skipped": self.skipped,
            },
            indent=2,
        )

    def as_text(self) -> str:
        counted = ", ".join(f"{n} {what}" for what, n in sorted(self.counted.items()))
        lines = [f"checked {counted or 'nothing'}"]
        lines += [f"skipped: {why}" for why in self.skipped]
        if self.ok:
            lines.append("every invariant holds")
            return "\n".join(lines)
        by_invariant = Counter(finding.invariant for finding in self.findings)
        lines.append(
            f"{len(self.findings)} findings: "
            + ", ".join(f"{by_invariant[i]} {i.value}" for i in Invariant if by_invariant[i])
        )
        for invariant in Invariant:
            found = [f for f in self.findings if f.invariant is invariant]
            if found:
                lines.append(f"\n{invariant.value}: {MEANING[invariant]}")
                lines += [f"  [{f.tenant}] {f.subject}: {f.problem}" for f in found]
        return "\n".join(lines)
