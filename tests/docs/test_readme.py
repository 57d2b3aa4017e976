"""The README's "Try it" section, run top to bottom against a fresh `./dev`.

Its shell blocks run as written (with this run's API port); each GraphQL block
is sent with the dev admin token, and its answer must be the JSON block that
follows it, but for ids, which differ on every run: an id the README shows is
matched to the one the answer holds, and later blocks use the real one.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import httpx

from tests.devstack.test_dev_command import dev_env, start_dev, stop_dev  # noqa: F401 (a fixture)

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.DOTALL)
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def section(title: str) -> str:
    text = README.read_text()
    start = text.index(f"\n## {title}\n")
    return text[start : text.index("\n## ", start + 1)]


def blocks(text: str) -> list[tuple[str, str]]:
    return [(kind, body.strip()) for kind, body in BLOCK.findall(text)]


def same_but_ids(expected: Any, actual: Any, ids: dict[str, str], where: str = "") -> None:
    """`actual` is `expected`, where each README id stands for one real id throughout."""
    if isinstance(expected, str) and UUID.fullmatch(expected):
        assert isinstance(actual, str) and UUID.fullmatch(actual), (where, actual)
        assert ids.setdefault(expected, actual) == actual, (where, expected, actual)
    elif isinstance(expected, dict):
        assert isinstance(actual, dict) and actual.keys() == expected.keys(), (where, actual)
        for key in expected:
            same_but_ids(expected[key], actual[key], ids, f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), (where, actual)
        for index, (one, other) in enumerate(zip(expected, actual, strict=True)):
            same_but_ids(one, other, ids, f"{where}[{index}]")
    else:
        assert actual == expected, (where, actual)


def test_the_readme_sections_blocks_are_what_the_test_runs():
    kinds = [kind for kind, _ in blocks(section("Try it"))]
    assert kinds[0] == "sh" and kinds[1:] == ["graphql", "json"] * ((len(kinds) - 1) // 2)


def test_try_it_runs_top_to_bottom_against_a_fresh_dev(dev_env, repo_root):  # noqa: F811
    api = dev_env["API_PORT"]
    process, banner = start_dev(dev_env, repo_root)
    try:
        token = re.search(r"Admin token\s+(\S+)", banner)
        assert token is not None, banner
        steps = blocks(section("Try it"))
        (_, shell), rest = steps[0], steps[1:]
        ran = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", shell.replace("localhost:4000", f"localhost:{api}")],
            cwd=repo_root,
            env=dev_env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert ran.returncode == 0, ran.stderr
        assert json.loads(ran.stdout)["data"]["createCategory"]["name"]

        ids: dict[str, str] = {}
        for (_, query), (_, answer) in zip(rest[::2], rest[1::2], strict=True):
            for shown, real in ids.items():
                query = query.replace(shown, real)
            got = httpx.post(
                f"http://127.0.0.1:{api}/graphql",
                headers={"authorization": f"Bearer {token.group(1)}"},
                json={"query": query},
                timeout=30,
            ).json()
            same_but_ids(json.loads(answer), got, ids, query[:40])
        assert len(ids) == 2  # the category's and the product's
    finally:
        stop_dev(process)
