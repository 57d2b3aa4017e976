"""The books kept outside our database: Temporal's sagas and the payment provider's ledger."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from domain.payments import payment_key
from domain.saga import OrderState
from ops.audit.books import Books, Key
from ops.audit.findings import AuditReport, Invariant
from psp.client import LedgerCharge
from workflows.contracts import ORDER_SAGA, order_workflow_id


async def check_sagas(
    client: Client,
    books: Books,
    report: AuditReport,
    last_change: Mapping[Key, datetime],
    *,
    stalled_after_seconds: float,
) -> None:
    """Each unfinished order's saga runs and has moved lately; each failed saga's order FAILED."""
    now = datetime.now(UTC)
    for (tenant, order_id), progress in books.orders.items():
        if progress.finished or not progress.placed:
            continue
        subject = f"order {order_id}"
        report.counted["workflows"] += 1
        try:
            described = await client.get_workflow_handle(order_workflow_id(order_id)).describe()
        except RPCError as error:
            if error.status is not RPCStatusCode.NOT_FOUND:
                raise
            report.add(Invariant.ORDERS, tenant, subject, "unfinished, and it has no saga")
            continue
        if described.status is not WorkflowExecutionStatus.RUNNING:
            status = described.status.name if described.status else "unknown"
            report.add(
                Invariant.ORDERS,
                tenant,
                subject,
                f"{progress.state.value}, but its saga is {status} in Temporal",
            )
            continue
        changed = last_change.get((tenant, order_id))
        if changed is not None and (now - changed).total_seconds() > stalled_after_seconds:
            report.add(
                Invariant.ORDERS,
                tenant,
                subject,
                f"no change for {(now - changed).total_seconds():.0f} s, longer than any "
                f"step's deadline ({stalled_after_seconds:.0f} s): see its saga in Temporal",
            )
    failed = f"WorkflowType = '{ORDER_SAGA}' AND ExecutionStatus = 'Failed'"
    by_id = {order_id: (tenant, p) for (tenant, order_id), p in books.orders.items()}
    async for execution in client.list_workflows(failed):
        order_id = execution.id.removeprefix("order-")
        if order_id not in by_id:
            continue  # its order was never placed, so nothing is half-done
        tenant, progress = by_id[order_id]
        if progress.state is not OrderState.FAILED:
            report.add(
                Invariant.ORDERS,
                tenant,
                f"order {order_id}",
                f"its saga FAILED in Temporal, but the order is {progress.state.value}",
            )


def check_ledger(books: Books, report: AuditReport, ledger: Sequence[LedgerCharge]) -> None:
    """The provider's charges and our payment events tell the same story."""
    ours = {payment_key(order_id): (tenant, order_id) for tenant, order_id in books.orders}
    ours.update({payment_key(order_id): (tenant, order_id) for tenant, order_id in books.payments})
    seen: set[str] = set()
    for charge in ledger:
        report.counted["charges"] += 1
        if charge.key in seen:
            report.add(Invariant.MONEY, "*", f"charge key {charge.key}", "charged twice")
        seen.add(charge.key)
        if charge.key not in ours:
            continue  # another system's charge, or an order of a database we do not audit
        tenant, order_id = ours[charge.key]
        subject = f"order {order_id}"
        payment = books.payments.get((tenant, order_id))
        progress = books.orders.get((tenant, order_id))
        if payment is None or payment.charge_id is None:
            # A payment that timed out may have charged without our knowing: it must
            # have been refunded, unless the saga still runs.
            if not charge.refunded and (progress is None or progress.finished):
                report.add(
                    Invariant.MONEY,
                    tenant,
                    subject,
                    f"the provider charged {charge.amount} yen ({charge.charge_id}), "
                    "not refunded, and no payment was recorded",
                )
            continue
        if payment.amount != charge.amount or payment.charge_id != charge.charge_id:
            report.add(
                Invariant.MONEY,
                tenant,
                subject,
                f"recorded {payment.charge_id} for {payment.amount} yen; the provider has "
                f"{charge.charge_id} for {charge.amount} yen",
            )
        if payment.refunded != charge.refunded:
            report.add(
                Invariant.MONEY,
                tenant,
                subject,
                f"refunded: ours says {payment.refunded}, the provider says {charge.refunded}",
            )
    for (tenant, order_id), payment in books.payments.items():
        if payment.charge_id is not None and payment_key(order_id) not in seen:
            report.add(
                Invariant.MONEY,
                tenant,
                f"order {order_id}",
                f"recorded charge {payment.charge_id}, which the provider does not have",
            )
