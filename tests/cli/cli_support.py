"""What the CLI tests share: running ``argyll`` in-process or as a process, and reading replies."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
from click.testing import CliRunner, Result

from argyll.cli import cli
from argyll.testing import script_step, wait_until

ROOT = Path(__file__).parents[2]
WIDE = {"COLUMNS": "250"}


def argyll(url: str, *args: str, env: Mapping[str, str] | None = None) -> Result:
    """``argyll --url URL ARGS`` in-process, with a terminal wide enough for whole rows."""
    return CliRunner().invoke(cli, ["--url", url, *args], env={**WIDE, **(env or {})})


def ok(result: Result) -> str:
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result.stdout


def printed(response: httpx.Response) -> str:
    """A reply's body as ``-o json`` must print it: verbatim, ending in one newline."""
    assert response.is_success, response.text
    return response.content.decode().rstrip("\n") + "\n"


def detail(response: httpx.Response) -> str:
    assert response.is_error, response.text
    return str(response.json()["detail"])


def chain(prefix: str) -> list[dict[str, Any]]:
    """Steps ``{prefix}-hello`` then ``{prefix}-shout``, with attributes of their own."""
    name, greeting, loud = f"{prefix}name", f"{prefix}greeting", f"{prefix}loud"
    return [
        script_step(
            f"{prefix}-hello",
            f'{{:{greeting} (str "Hello, " {name})}}',
            requires=[name],
            outputs=[greeting],
        ),
        script_step(
            f"{prefix}-shout",
            f'{{:{loud} (str {greeting} "!")}}',
            requires=[greeting],
            outputs=[loud],
        ),
    ]


def register(url: str, *definitions: Mapping[str, Any]) -> None:
    for definition in definitions:
        assert httpx.post(f"{url}/engine/step", json=definition).status_code in (200, 201)


def ended_flow(url: str, flow_id: str) -> dict[str, Any]:
    """The flow's state once it is no longer active."""

    def ended() -> dict[str, Any] | None:
        state = httpx.get(f"{url}/engine/flow/{flow_id}").json()
        return None if state["status"] == "active" else state

    return asyncio.run(wait_until(ended, f"flow {flow_id} to end"))


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def spawn(*args: str, env: Mapping[str, str] | None = None) -> asyncio.subprocess.Process:
    """``python -m argyll ARGS`` as a real process, stdout and stderr piped."""
    return await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "argyll", *args),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT), **WIDE, **(env or {})},
    )


async def finish(process: asyncio.subprocess.Process) -> tuple[int, str, str]:
    """Wait (bounded) for the process to exit: its code, stdout and stderr."""
    async with asyncio.timeout(30):
        out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()
