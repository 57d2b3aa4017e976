"""Tenants never meet: through the API, and in PostgreSQL itself (row-level security)."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from database import create_engine
from devstack.servers import with_user
from tenancy import APP_ROLE
from tests.api.catalog_client import error_of
from tests.conftest import token
from tests.orders_client import place, until_final

ALLOWED_WITHOUT_RLS = {"read.projection_checkpoints"}
"""Tables every tenant shares: where each asynchronous projection has got to in the log."""

CREATE_CATEGORY = "mutation($n: String!) { createCategory(input: {name: $n}) { id name } }"
CREATE_PRODUCT = (
    'mutation($c: ID!) { createProduct(input: {name: "Lamp", price: 500, categoryId: $c}) { id } }'
)
ADD_STOCK = "mutation($p: ID!) { addStock(input: {productId: $p, quantity: 3}) { id stock } }"


async def test_every_table_is_under_row_level_security_with_a_policy(engine):
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.text(
                    "SELECT n.nspname || '.' || c.relname AS name, c.relrowsecurity, "
                    "c.relforcerowsecurity, "
                    "(SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies "
                    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname IN ('eventstore', 'read') AND c.relkind = 'r'"
                )
            )
        ).all()
    assert len(rows) > 5
    unprotected = {
        row.name
        for row in rows
        if not (row.relrowsecurity and row.relforcerowsecurity and row.policies)
    }
    assert unprotected == ALLOWED_WITHOUT_RLS, (
        "a new table needs row-level security: see tenancy.tenant_policy_sql"
    )


async def tenant_catalog(gql, tenant: str, name: str) -> tuple[str, str]:
    admin = gql.as_user(token(f"admin-{tenant}", tenant=tenant))
    category = (await admin.data(CREATE_CATEGORY, {"n": name}))["createCategory"]
    product = (await admin.data(CREATE_PRODUCT, {"c": category["id"]}))["createProduct"]
    await admin.data(ADD_STOCK, {"p": product["id"]})
    return category["id"], product["id"]


async def test_tenants_never_see_or_touch_each_others_data(system):
    acme, globex = f"acme-{uuid.uuid4().hex[:6]}", f"globex-{uuid.uuid4().hex[:6]}"
    name = f"Electronics {uuid.uuid4().hex[:6]}"
    # Business rules hold per tenant: both may have a category of the same name.
    acme_category, acme_product = await tenant_catalog(system.gql, acme, name)
    globex_category, _ = await tenant_catalog(system.gql, globex, name)
    assert acme_category != globex_category

    globex_admin = system.gql.as_user(token("admin-globex", tenant=globex))
    listed = await globex_admin.data("{ categories { id } products(first: 1000) { id } }")
    assert acme_category not in {c["id"] for c in listed["categories"]}
    assert acme_product not in {p["id"] for p in listed["products"]}
    found = await globex_admin.data(
        "query($c: ID!, $p: ID!) { category(id: $c) { id } product(id: $p) { id } }",
        {"c": acme_category, "p": acme_product},
    )
    assert found == {"category": None, "product": None}
    # Anonymous readers name their tenant; they see that one only.
    anonymous = system.gql.as_user(None)
    ids = {
        c["id"]
        for c in (await anonymous("{ categories { id } }", **{"x-tenant-id": acme}))["data"][
            "categories"
        ]
    }
    assert acme_category in ids and globex_category not in ids

    # Writes to another tenant's things find nothing there.
    assert error_of(await globex_admin(ADD_STOCK, {"p": acme_product}))["code"] == "NOT_FOUND"
    assert error_of(await globex_admin(CREATE_PRODUCT, {"c": acme_category}))["code"] == (
        "NOT_FOUND"
    )
    refused = await place(globex_admin, [(acme_product, 1)], user=None)
    assert error_of(refused)["code"] == "NOT_FOUND"

    # An order of one tenant is missing in the other, even for its admin.
    customer = system.gql.as_user(token("carol", role="customer", tenant=acme))
    order_id = (await place(customer, [(acme_product, 1)], user=None))["data"]["createOrder"]["id"]
    assert (await until_final(customer, order_id))["status"] == "CONFIRMED"
    order = await globex_admin.data("query($id: ID!) { order(id: $id) { id } }", {"id": order_id})
    assert order == {"order": None}
    orders = await globex_admin.data("{ orders(first: 1000) { id } }")
    assert order_id not in {o["id"] for o in orders["orders"]}
    cancel = "mutation($id: ID!) { cancelOrder(id: $id) { id } }"
    assert error_of(await globex_admin(cancel, {"id": order_id}))["code"] == "NOT_FOUND"


async def test_the_app_role_sees_no_other_tenants_rows_even_in_a_bare_select(system, engine):
    await tenant_catalog(system.gql, "sql-a", f"Tools {uuid.uuid4().hex[:6]}")
    app = create_engine(with_user(system.settings.database_owner_url or "", APP_ROLE))
    try:
        async with app.connect() as conn:
            # No tenant named: nothing at all.
            assert (await conn.scalar(sa.text("SELECT count(*) FROM read.categories"))) == 0
            assert (await conn.scalar(sa.text("SELECT count(*) FROM eventstore.events"))) == 0
            await conn.execute(sa.text("SELECT set_config('app.tenant_id', 'sql-b', true)"))
            for table in ("read.categories", "read.products", "eventstore.events"):
                count = await conn.scalar(sa.text(f"SELECT count(*) FROM {table}"))
                assert count == 0, table
            await conn.execute(sa.text("SELECT set_config('app.tenant_id', 'sql-a', true)"))
            assert (await conn.scalar(sa.text("SELECT count(*) FROM read.categories"))) >= 1
            tenants = await conn.scalars(sa.text("SELECT DISTINCT tenant_id FROM read.products"))
            assert list(tenants) == ["sql-a"]
        # A row for another tenant is refused, whatever the statement says.
        async with app.connect() as conn:
            await conn.execute(sa.text("SELECT set_config('app.tenant_id', 'sql-b', true)"))
            try:
                await conn.execute(
                    sa.text(
                        "INSERT INTO read.categories (id, name, created_at, updated_at, tenant_id)"
                        " VALUES ('x', 'x', now(), now(), 'sql-a')"
                    )
                )
            except sa.exc.DBAPIError as refused:
                assert "row-level security" in str(refused)
            else:
                raise AssertionError("the app role wrote a row of another tenant")
    finally:
        await app.dispose()
    # The owner (operators, tests) sees every tenant.
    async with engine.connect() as conn:
        seen = set(await conn.scalars(sa.text("SELECT DISTINCT tenant_id FROM read.products")))
    assert "sql-a" in seen and len(seen) > 1


async def test_another_tenants_order_cannot_be_followed_nor_its_request_id_reused(system):
    from tests.e2e.test_subscription import first_answer, served

    _, product = await tenant_catalog(system.gql, "sub-a", f"Desk {uuid.uuid4().hex[:6]}")
    alice = system.gql.as_user(token("alice", role="customer", tenant="sub-a"))
    request_id = str(uuid.uuid4())
    placed = await place(alice, [(product, 1)], user=None, request_id=request_id)
    order_id = placed["data"]["createOrder"]["id"]
    # The same subject and requestId in another tenant is another command and another order.
    _, product_b = await tenant_catalog(system.gql, "sub-b", f"Desk {uuid.uuid4().hex[:6]}")
    namesake = system.gql.as_user(token("alice", role="customer", tenant="sub-b"))
    other = await place(namesake, [(product_b, 1)], user=None, request_id=request_id)
    assert other["data"]["createOrder"]["id"] != order_id
    assert error_of(await place(namesake, [(product, 1)], user=None))["code"] == "NOT_FOUND"
    async with served(system.app) as port:
        answer = await first_answer(port, token("admin-b", tenant="sub-b"), order_id)
    [error] = answer["payload"]["errors"]
    assert error["message"] == f"order {order_id} does not exist"
    assert error["extensions"]["code"] == "NOT_FOUND"
