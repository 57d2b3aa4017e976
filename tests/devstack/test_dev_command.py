"""`shop dev`, the quick start's first command, as a user runs it."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def start_dev(env: dict[str, str], repo_root: Path) -> tuple[subprocess.Popen[bytes], str]:
    output = Path(env["DATA_DIR"]).parent / f"dev-{time.monotonic_ns()}.out"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "cli", "dev"],
            cwd=repo_root,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 90
    while "Ctrl-C stops everything" not in (banner := output.read_text(errors="replace")):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"dev did not start:\n{banner}")
        time.sleep(0.2)
    return process, banner


def stop_dev(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGINT)
    assert process.wait(60) == 0


@pytest.fixture
def dev_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TEMPORAL_ADDRESS")}
    env.update(
        DATA_DIR=str(tmp_path / "data"),
        API_PORT=str(free_port()),
        TEMPORAL_PORT=str(free_port()),
        TEMPORAL_UI_PORT=str(free_port()),
        PSP_PORT=str(free_port()),
        API_METRICS_PORT=str(free_port()),
        WORKER_METRICS_PORT=str(free_port()),
        WORKER_SDK_METRICS_PORT=str(free_port()),
        PROJECTOR_METRICS_PORT=str(free_port()),
    )
    return env


def test_dev_runs_everything_stops_cleanly_and_keeps_data(dev_env, repo_root):
    api, temporal, ui = (int(dev_env[k]) for k in ("API_PORT", "TEMPORAL_PORT", "TEMPORAL_UI_PORT"))
    process, banner = start_dev(dev_env, repo_root)
    try:
        assert f"http://127.0.0.1:{api}/graphiql" in banner
        assert f"http://127.0.0.1:{ui}" in banner
        graphiql = httpx.get(f"http://127.0.0.1:{api}/graphiql", headers={"accept": "text/html"})
        assert graphiql.status_code == 200 and "graphiql" in graphiql.text.lower()
        assert httpx.get(f"http://127.0.0.1:{api}/readyz").json()["ready"] is True
        admin_token = re.search(r"Admin token\s+(\S+)", banner)
        assert admin_token is not None, banner
        # GraphiQL starts with the dev admin token in its headers.
        assert f"Bearer {admin_token.group(1)}" in graphiql.text
        anonymous = httpx.post(
            f"http://127.0.0.1:{api}/graphql",
            json={"query": 'mutation { createCategory(input: { name: "X" }) { id } }'},
            timeout=30,
        ).json()
        assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        created = httpx.post(
            f"http://127.0.0.1:{api}/graphql",
            headers={"authorization": f"Bearer {admin_token.group(1)}"},
            json={
                "query": 'mutation { createCategory(input: { name: "Electronics" }) { id name } }'
            },
            timeout=30,
        ).json()
        assert created["data"]["createCategory"]["name"] == "Electronics"
        for _ in range(100):  # the Temporal UI comes up shortly after the server
            if port_open(ui):
                break
            time.sleep(0.1)
        assert httpx.get(f"http://127.0.0.1:{ui}/").status_code == 200
    finally:
        stop_dev(process)
    assert not any(port_open(port) for port in (api, temporal, ui))
    assert not (Path(dev_env["DATA_DIR"]) / "postgres" / "postmaster.pid").exists()

    process, _ = start_dev(dev_env, repo_root)
    try:
        listed = httpx.post(
            f"http://127.0.0.1:{api}/graphql", json={"query": "{ categories { name } }"}
        ).json()
        assert listed["data"]["categories"] == [{"name": "Electronics"}]
    finally:
        stop_dev(process)


def until_closed(*ports: int, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while any(port_open(port) for port in ports):
        assert time.monotonic() < deadline, f"still listening: {[p for p in ports if port_open(p)]}"
        time.sleep(0.2)


def test_a_closed_terminal_stops_dev_and_everything_it_started(dev_env, repo_root):
    api, temporal = int(dev_env["API_PORT"]), int(dev_env["TEMPORAL_PORT"])
    process, _ = start_dev(dev_env, repo_root)
    process.send_signal(signal.SIGHUP)  # what a closed window or a dropped SSH session sends
    assert process.wait(60) == 0
    until_closed(api, temporal)


def test_one_dev_per_data_directory_and_none_outlives_a_killed_one(dev_env, repo_root):
    api, temporal = int(dev_env["API_PORT"]), int(dev_env["TEMPORAL_PORT"])
    first, _ = start_dev(dev_env, repo_root)
    second = subprocess.run(
        [sys.executable, "-m", "cli", "dev"],
        cwd=repo_root,
        env=dev_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second.returncode != 0
    assert "already running on" in second.stderr and f"(pid {first.pid})" in second.stderr
    assert "Traceback" not in second.stderr

    first.kill()  # no chance to clean up: its children must go anyway
    first.wait()
    until_closed(api, temporal)
    # The next one starts cleanly on the same data, without looping on busy ports.
    again, banner = start_dev(dev_env, repo_root)
    assert "restarting" not in banner
    stop_dev(again)


def test_a_child_that_keeps_failing_at_start_is_given_up_with_one_line(monkeypatch, capsys):
    """Restarted with a growing pause (2, 4, 8, 16 s), then everything stops, saying why."""
    from devstack import launcher

    pauses: list[float] = []
    monkeypatch.setattr(launcher.time, "sleep", pauses.append)
    monkeypatch.setattr(launcher, "_spawn", lambda name, env: subprocess.Popen(["false"]))
    with pytest.raises(SystemExit) as stopped:
        launcher._supervise({"worker": subprocess.Popen(["false"])}, {})

    assert str(stopped.value) == (
        f"shop worker failed {launcher.MAX_FAILED_STARTS} times in a row at start (exit code 1);"
        " its output above says why. Stopping everything."
    )
    assert [pause for pause in pauses if pause != 0.5] == [2.0, 4.0, 8.0, 16.0]
    restarts = capsys.readouterr().err.splitlines()
    assert restarts == [f"worker exited with 1; restarting it in {s}s" for s in (2, 4, 8, 16)]
