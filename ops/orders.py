"""`shop orders inspect ORDER_ID`: an order, its saga, and every event it caused."""

from __future__ import annotations

import json

from sqlalchemy.ext.asyncio import AsyncEngine

from eventstore import FollowedEventStore
from ops.terminal import render
from read_models import queries


async def inspect(engine: AsyncEngine, store: FollowedEventStore, order_id: str) -> str:
    async with engine.connect() as conn:
        order = (await queries.order_rows(conn, [order_id])).get(order_id)
        if order is None:
            return f"no order {order_id}"
        items = (await queries.items_of_orders(conn, [order_id]))[order_id]
        timeline = await store.read_correlated(conn, order_id)
    saga = [
        ("order", order["id"]),
        ("tenant", order["tenant_id"]),
        ("user", order["user_id"]),
        ("status", order["status"]),
        ("total", f"{order['total_amount']} yen"),
        ("saga", f"{order['saga_status']} (state {order['saga_state']})"),
        ("current step", order["current_step"] or "-"),
        ("started", order["started_at"].isoformat(timespec="milliseconds")),
        (
            "completed",
            order["completed_at"].isoformat(timespec="milliseconds")
            if order["completed_at"]
            else "-",
        ),
        ("failure reason", order["failure_reason"] or "-"),
        ("compensations", ", ".join(order["compensations"]) or "-"),
    ]
    width = max(len(label) for label, _ in saga)
    parts = ["\n".join(f"{label.ljust(width)}  {value}" for label, value in saga), ""]
    parts.append(
        render(
            ("line", "product", "name", "quantity", "price", "subtotal"),
            [
                (
                    i["line"],
                    i["product_id"],
                    i["product_name"],
                    i["quantity"],
                    i["price"],
                    i["subtotal"],
                )
                for i in items
            ],
        )
    )
    parts.append("")
    parts.append(f"timeline ({len(timeline)} events, every stream, in log order):")
    parts.append(
        render(
            ("position", "stream", "version", "type", "recorded at", "data"),
            [
                (
                    e.position,
                    e.stream_id,
                    e.version,
                    e.event.event_type,
                    e.recorded_at.isoformat(timespec="milliseconds"),
                    json.dumps(e.event.model_dump(mode="json"), ensure_ascii=False),
                )
                for e in timeline
            ],
        )
    )
    return "\n".join(parts)
