"""Orders in the schema: `createOrder`, `cancelOrder`, `order`, `orders`, `orderUpdated`."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry
from pydantic import ValidationError
from sqlalchemy import RowMapping

from api.auth.identity import Identity
from api.commands.sagas import OrderNotRunning
from api.commands.sender import REUSED_REQUEST_ID, RequestId, command_id_for, new_entity_id
from api.errors import ApiError, invalid_input
from api.graphql.context import Info
from api.graphql.order_types import Order, OrderUpdate
from api.graphql.pagination import fetch_page
from domain.errors import ErrorCode
from domain.orders import MAX_LINES, PlaceOrder
from domain.saga import FINAL_STATES
from read_models import queries
from workflows.contracts import CancelOrderRequest


@strawberry.input
class OrderItemInput:
    product_id: strawberry.ID
    quantity: int = strawberry.field(description="1 to 1,000.")


@strawberry.input
class CreateOrderInput:
    user_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Whom the order is for: the caller when left out. Only an admin may "
        "name another user.",
    )
    items: list[OrderItemInput] = strawberry.field(description="1 to 100 lines, one per product.")


def _visible(identity: Identity, row: RowMapping | None) -> RowMapping | None:
    """The order if the caller may see it; someone else's order is as good as missing."""
    if row is None or not identity.may_act_for(row["user_id"]):
        return None
    return row


async def _order_row(info: Info, order_id: str) -> RowMapping:
    """The order's row, read now; NOT_FOUND when it is missing or someone else's."""
    identity = info.context.signed_in()
    async with info.context.services.engine.connect() as conn:
        row = _visible(identity, (await queries.order_rows(conn, [order_id])).get(order_id))
    if row is None:
        raise ApiError(ErrorCode.NOT_FOUND, f"order {order_id} does not exist", field="id")
    return row


async def _order(info: Info, order_id: str) -> Order:
    return Order.from_row(await _order_row(info, order_id))


def _customer(identity: Identity, user_id: strawberry.ID | None) -> str:
    """Whom an order (or a list of orders) is for: the caller, unless an admin names another."""
    if not identity.roles:
        raise ApiError(ErrorCode.FORBIDDEN, "this needs the customer or admin role")
    assert identity.subject is not None
    if user_id is None or str(user_id) == identity.subject:
        return identity.subject
    if not identity.is_admin:
        raise ApiError(ErrorCode.FORBIDDEN, "a customer may only act for themself", field="userId")
    return str(user_id)


async def _require_same_order(info: Info, order: PlaceOrder) -> None:
    """The order a `requestId` names must be the one asked for now, not an earlier other one.

    Checked after placing: a request that joined an earlier one's saga finds
    that saga's order here, whether it was still running or had finished.
    """
    async with info.context.services.engine.connect() as conn:
        placed = (await queries.order_rows(conn, [order.order_id])).get(order.order_id)
        lines = (await queries.items_of_orders(conn, [order.order_id])).get(order.order_id, [])
    asked = [(item.product_id, item.quantity) for item in order.items]
    if placed is None or (
        placed["user_id"] == order.user_id
        and [(line["product_id"], line["quantity"]) for line in lines] == asked
    ):
        return
    raise ApiError(ErrorCode.CONFLICT, REUSED_REQUEST_ID, field="requestId")


async def _priced_order(
    info: Info, order_id: str, user_id: str, order: CreateOrderInput
) -> PlaceOrder:
    """The order as the saga gets it: each line priced from the catalog now."""
    if not 1 <= len(order.items) <= MAX_LINES:
        # Counted before any line is looked up: 40,000 lines cost no SQL.
        raise ApiError(ErrorCode.VALIDATION, f"an order has 1 to {MAX_LINES} lines", field="items")
    product_ids = [str(item.product_id) for item in order.items]
    async with info.context.services.engine.connect() as conn:
        products = await queries.product_rows(conn, product_ids)
    for product_id in product_ids:
        if product_id not in products:
            raise ApiError(
                ErrorCode.NOT_FOUND, f"product {product_id} does not exist", field="productId"
            )
    try:
        return PlaceOrder.model_validate(
            {
                "order_id": order_id,
                "user_id": user_id,
                "items": [
                    {
                        "product_id": str(item.product_id),
                        "product_name": products[str(item.product_id)]["name"],
                        "quantity": item.quantity,
                        "price": products[str(item.product_id)]["price"],
                    }
                    for item in order.items
                ],
            }
        )
    except ValidationError as error:
        raise invalid_input(error, default_field="items") from None


@strawberry.type
class OrderQuery:
    @strawberry.field
    async def order(self, info: Info, id: strawberry.ID) -> Order | None:
        identity = info.context.signed_in()
        row = _visible(identity, await info.context.loaders.order.load(str(id)))
        return None if row is None else Order.from_row(row)

    @strawberry.field(
        description="Orders oldest first: a customer's own, or (for an admin) every order, "
        "or one user's. Page with `first` (1 to 1000) and `after`: the id of the last "
        "order of the previous page."
    )
    async def orders(
        self,
        info: Info,
        user_id: strawberry.ID | None = None,
        first: int = 100,
        after: strawberry.ID | None = None,
    ) -> list[Order]:
        identity = info.context.signed_in()
        owner = None if identity.is_admin and user_id is None else _customer(identity, user_id)
        async with info.context.services.engine.connect() as conn:
            rows = await fetch_page(
                "order",
                first,
                after,
                lambda: queries.order_page(
                    conn,
                    user_id=owner,
                    first=first,
                    after=None if after is None else str(after),
                ),
            )
        return [Order.from_row(row) for row in rows]


@strawberry.type
class OrderMutation:
    @strawberry.mutation(
        description="Place an order and start its saga; answers once the order is recorded."
    )
    async def create_order(
        self, info: Info, input: CreateOrderInput, request_id: RequestId = None
    ) -> Order:
        context = info.context
        identity = context.signed_in()
        user_id = _customer(identity, input.user_id)
        assert identity.subject is not None
        command_id = command_id_for(
            mutation="createOrder",
            tenant_id=identity.tenant,
            actor=identity.subject,
            request_id=request_id,
        )
        order_id = new_entity_id(command_id)
        order = await _priced_order(info, order_id, user_id, input)
        await context.services.sagas.place(order, context.command_context(command_id))
        await _require_same_order(info, order)
        return await _order(info, order_id)

    @strawberry.mutation(
        description="Cancel an order that is not confirmed yet: its saga compensates what it "
        "did, and this answers with the order CANCELLED. CONFLICT once it is confirmed."
    )
    async def cancel_order(
        self,
        info: Info,
        id: strawberry.ID,
        reason: str = "cancelled by the customer",
    ) -> Order:
        try:
            request = CancelOrderRequest(reason=reason)
        except ValidationError as error:
            raise invalid_input(error, default_field="reason") from None
        order = await _order(info, str(id))
        try:
            await info.context.services.sagas.cancel(str(id), request)
        except OrderNotRunning:
            raise ApiError(
                ErrorCode.CONFLICT,
                f"order {id} is {order.status.value.lower()} and can no longer be cancelled",
                field="id",
            ) from None
        return await _order(info, str(id))


@strawberry.type
class OrderSubscription:
    @strawberry.subscription(
        description="Every change of the order's status, in order; ends after the final "
        "one (CONFIRMED, CANCELLED or FAILED). A client that reconnects passes the last "
        "`version` it saw as `afterVersion` and misses nothing."
    )
    async def order_updated(
        self, info: Info, order_id: strawberry.ID, after_version: int = 0
    ) -> AsyncGenerator[OrderUpdate, None]:
        context = info.context
        order = await _order_row(info, str(order_id))  # someone else's is as good as missing
        if order["status"] in FINAL_STATES and after_version >= order["version"]:
            return  # the client has seen every change there will ever be
        version = after_version
        # Woken only by this order's changes: its saga's steps carry its id.
        async with context.services.notifications.subscription(str(order_id)) as woken:
            while True:
                woken.clear()
                context.signed_in()  # ends the subscription once the socket's token expires
                async with context.services.engine.connect() as conn:
                    rows = await queries.order_updates_after(conn, str(order_id), version)
                for row in rows:
                    version = row["version"]
                    # Fresh loaders for each update: the operation's would serve every
                    # update what they cached for the first (its timeline, say).
                    context.loaders = context.fresh_loaders()
                    yield OrderUpdate.from_row(row)
                    if row["status"] in FINAL_STATES:
                        return
                # The read took every update there was; one made since it began has
                # set `woken` (cleared before the read), so nothing is missed by
                # waiting now rather than reading again first.
                await context.wait_for_log(woken)
