"""`shop`'s operator commands, run as an operator runs them, on a database with real sagas."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tomllib
import uuid
from pathlib import Path
from typing import Any

import pytest

from settings import Settings
from tests.conftest import settings_env
from tests.orders_client import faults, place, stocked_product, until, until_final

ROOT = Path(__file__).resolve().parents[2]
HISTORIES = ROOT / "tests" / "histories"


async def shop(env: dict[str, str], *args: str, within: float = 60) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), within)
    return process.returncode or 0, output.decode()


@pytest.fixture
async def confirmed_order(system):
    product = await stocked_product(system.gql, price=1500, stock=3)
    order_id = (await place(system.gql, [(product["id"], 2)]))["data"]["createOrder"]["id"]
    await until_final(system.gql, order_id)
    return order_id, product["id"]


async def test_every_command_has_help(system):
    env = settings_env(system.settings)
    for command in (
        [],
        ["events"],
        ["events", "show"],
        ["events", "tail"],
        ["projections"],
        ["projections", "status"],
        ["projections", "rebuild"],
        ["replay"],
        ["orders", "inspect"],
    ):
        code, output = await shop(env, *command, "--help")
        assert code == 0 and "usage: shop" in output, (command, output)


async def test_events_show_lists_a_stream_with_metadata(system, confirmed_order):
    order_id, _ = confirmed_order
    code, output = await shop(
        settings_env(system.settings), "events", "show", f"order-{order_id}", "--tenant", "default"
    )
    assert code == 0, output
    scope, *lines = output.splitlines()
    assert scope == f"stream order-{order_id} (tenant default)"
    assert lines[0].split() == [
        "version",
        "position",
        "type",
        "recorded",
        "at",
        "tenant",
        "correlation",
        "actor",
        "data",
    ]
    assert {line.split()[5] for line in lines[2:]} == {"default"}
    types = [line.split()[2] for line in lines[2:]]
    assert types == [
        "OrderPlaced",
        "OrderStockReserved",
        "OrderFraudChecked",
        "OrderPaymentProcessed",
        "OrderShippingArranged",
        "OrderConfirmed",
    ]
    assert all(order_id in line for line in lines[2:])  # the correlation id


async def test_events_tail_prints_the_log_from_the_start(system, confirmed_order):
    code, output = await shop(
        settings_env(system.settings), "events", "tail", "--from-start", "--limit", "5"
    )
    assert code == 0, output
    assert len(output.strip().splitlines()) == 5


async def test_projections_status_and_rebuild(system, confirmed_order):
    env = settings_env(system.settings)
    code, output = await shop(env, "projections", "status")
    assert code == 0, output
    table = output.split("\n\n")[0]  # notes may follow the table
    names = [line.split()[0] for line in table.splitlines()[2:]]
    assert names == ["categories", "products", "orders", "price_history", "order_timeline"]

    before = (await system.gql.data("{ orders(first: 1000) { id status totalAmount } }"))["orders"]
    code, output = await shop(env, "projections", "rebuild", "orders")
    assert code == 0, output
    assert "orders rebuilt from" in output
    assert "\r" not in output and "\x1b[" not in output  # no progress drawn into a pipe
    after = (await system.gql.data("{ orders(first: 1000) { id status totalAmount } }"))["orders"]
    assert after == before

    code, output = await shop(env, "projections", "rebuild", "nope")
    assert code != 0 and "no projection named 'nope'" in output


async def test_orders_inspect_tells_the_whole_story(system, confirmed_order):
    order_id, product_id = confirmed_order
    code, output = await shop(settings_env(system.settings), "orders", "inspect", order_id)
    assert code == 0, output
    assert "CONFIRMED" in output and "3000 yen" in output
    for event_type in (
        "OrderPlaced",
        "StockReserved",
        "PaymentCaptured",
        "ShipmentArranged",
        "OrderConfirmed",
    ):
        assert event_type in output
    assert f"stock-{product_id}" in output
    code, output = await shop(settings_env(system.settings), "orders", "inspect", "nope")
    assert "no order nope" in output


async def test_replay_from_temporal_and_from_a_file(system, confirmed_order):
    order_id, _ = confirmed_order
    env = settings_env(system.settings)
    code, output = await shop(env, "replay", f"order-{order_id}")
    assert code == 0, output
    assert "the code is compatible" in output

    history = str(HISTORIES / "order_saga_confirmed.json")
    code, output = await shop(env, "replay", history)
    assert code == 0, output

    code, output = await shop(
        env, "replay", history, "--workflow", "tests.workflows.reordered_saga:ReorderedSaga"
    )
    assert code == 1
    assert "NOT replay-compatible" in output and "nondetermin" in output.lower()


def paying(order: dict[str, Any] | None) -> bool:
    return order is not None and order["sagaState"]["currentStep"] == "PROCESS_PAYMENT"


async def test_replay_running_checks_every_saga_in_flight_against_a_candidate(
    system, temporal_env, psp_url
):
    """A saga that is still paying (the provider is down, its deadline far off) is replayed
    from Temporal: compatible with this code, and not with a reordered candidate."""
    import bootstrap
    from domain.orders import OrderItem, PlaceOrder
    from ops.replay import RUNNING_SAGAS
    from workflows.contracts import CommandContext, OrderSagaInput
    from workflows.order_saga import OrderSaga

    product = await stocked_product(system.gql, price=100, stock=1)
    order_id = f"replay-{uuid.uuid4()}"
    line = OrderItem(product_id=product["id"], product_name="Widget", quantity=1, price=100)
    patient = bootstrap.saga_timeouts(system.settings).model_copy(
        update={"payment_deadline_seconds": 300}
    )
    saga = OrderSagaInput(
        order=PlaceOrder(order_id=order_id, user_id="u-replay", items=[line]),
        context=CommandContext(command_id=order_id, correlation_id=order_id),
        queues=bootstrap.task_queues(system.settings),
        timeouts=patient,
    )
    await faults(psp_url, outage=True)
    handle = await temporal_env.client.start_workflow(
        OrderSaga.run, saga, id=f"order-{order_id}", task_queue=saga.queues.orders
    )
    try:
        await until(system.gql, order_id, paying)
        env = settings_env(system.settings)
        this_one = f"{RUNNING_SAGAS} AND WorkflowId = 'order-{order_id}'"
        code, output = await shop(env, "replay", "--running", this_one)
        where = f"at {system.settings.temporal_address} (namespace default)"
        # The last line is the verdict (the SDK may log a warning of its own before it).
        assert (code, output.strip().splitlines()[-1]) == (
            0,
            f"1 running workflows replayed {where}: the code is compatible",
        ), output
        candidate = "tests.workflows.reordered_saga:ReorderedSaga"
        code, output = await shop(env, "replay", "--running", this_one, "--workflow", candidate)
        assert code == 1
        assert f"order-{order_id}: NOT replay-compatible" in output
        assert output.strip().endswith(f"replayed {where}: 1 NOT replay-compatible")
        code, output = await shop(env, "replay")
        assert code == 2 and "give a workflow id or a history file, or --running" in output
    finally:
        await handle.terminate("test over")
        await faults(psp_url)


def test_operator_commands_find_a_running_dev_stack(tmp_path):
    from cli import _beside_running_dev
    from devstack.launcher import STACK_FILE

    alone = Settings(data_dir=tmp_path)
    assert _beside_running_dev(alone).database_url is None  # no `./dev` runs there
    (tmp_path / STACK_FILE).write_text(
        json.dumps(
            {
                "DATABASE_URL": "postgresql://app@/shop",
                "DATABASE_OWNER_URL": "postgresql://owner@/shop",
                "TEMPORAL_ADDRESS": "127.0.0.1:7233",
                "PSP_URL": "http://127.0.0.1:4010",
            }
        )
    )
    found = _beside_running_dev(Settings(data_dir=tmp_path, temporal_address="elsewhere:7233"))
    assert found.database_owner_url == "postgresql://owner@/shop"
    assert found.temporal_address == "elsewhere:7233"  # what the environment says wins


UNREACHABLE_DATABASE = {"DATABASE_URL": "postgresql://shop@127.0.0.1:1/shop"}


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (["orders", "inspect", "o-1"], {}, "DATABASE_URL is not set: start ./dev"),
        (["migrate"], {}, "DATABASE_URL is not set: start ./dev"),
        (["replay", "/no/such/history.json"], {}, "no such file: /no/such/history.json"),
        (
            ["replay", "{tmp}/not-a-history.json"],
            {},
            "not-a-history.json is not a workflow history",
        ),
        (["replay", "{tmp}/a-folder.json"], {}, "a-folder.json: Is a directory"),
        (["replay", "order-1"], {}, "127.0.0.1:1"),
        (["replay", "--running"], {}, "127.0.0.1:1"),
        (["events", "show", "order-1"], UNREACHABLE_DATABASE, "cannot reach a server"),
        (["events", "show", "order-1"], {"API_PORT": "abc"}, "API_PORT: Input should be"),
        (["events", "show", "order-1"], {"stack.json": "5"}, "DATABASE_URL is not set"),
    ],
    ids=[
        "nothing running",
        "nothing to migrate",
        "a missing file",
        "a file that is no history",
        "a directory",
        "Temporal unreachable",
        "Temporal unreachable, every saga",
        "PostgreSQL unreachable",
        "a setting that is no number",
        "a damaged stack file",
    ],
)
async def test_an_operator_command_that_cannot_work_says_why_in_one_line(tmp_path, args, env, says):
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "TEMPORAL_"))
    }
    environment["DATA_DIR"] = str(tmp_path)  # no ./dev runs there
    environment["TEMPORAL_ADDRESS"] = "127.0.0.1:1"  # nothing listens there
    if "stack.json" in env:
        (tmp_path / "stack.json").write_text(env.pop("stack.json"))
    environment.update(env)
    (tmp_path / "not-a-history.json").write_text('{"events": "no"}\x00')
    (tmp_path / "a-folder.json").mkdir()
    args = [arg.replace("{tmp}", str(tmp_path)) for arg in args]
    code, output = await shop(environment, *args)
    assert code == 2
    [line] = output.strip().splitlines()
    assert line.startswith(f"shop {args[0]}: ") and says in line


async def test_shop_says_its_version_from_the_console_script_in_the_venv():
    """`shop` is on the PATH of an activated .venv (pyproject's [project.scripts])."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    script = Path(sys.executable).parent / "shop"
    assert script.is_file(), "the package is installed without its console script"
    process = await asyncio.create_subprocess_exec(
        script, "--version", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0
    assert output.decode().strip() == f"shop {project['project']['version']}"


async def test_the_payment_simulator_keeps_its_books_across_a_restart(tmp_path):
    import httpx

    from psp.simulator import create_simulator

    books = tmp_path / "psp-ledger.json"
    seen = []
    for restart in range(2):  # the second simulator is the first one restarted
        app = create_simulator(books=books)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://psp"
        ) as psp:
            if restart == 0:
                charge = {"amount": 500, "customer": "c"}
                headers = {"Idempotency-Key": "order-1-payment"}
                assert (await psp.post("/v1/charges", json=charge, headers=headers)).is_success
            seen.append((await psp.get("/v1/charges")).json()["charges"])
    assert seen[1] == seen[0] and [c["amount"] for c in seen[1]] == [500]
