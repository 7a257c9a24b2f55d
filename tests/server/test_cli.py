"""``argyll serve`` as a real process: ready line, health, clean stop, durable SQLite store."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from server_support import HELLO

from argyll import __version__
from argyll.cli import main
from argyll.cli.serve import ServeOptions, engine_options, kv, serve, store_url
from argyll.outbound import ALLOW_ALL

ROOT = Path(__file__).parents[2]
READY = re.compile(r"argyll serving on (http://\S+) store=(\S+)")


async def spawn(*flags: str, env: dict[str, str] | None = None) -> asyncio.subprocess.Process:
    """``python -m argyll serve --port 0 FLAGS`` with its stdout and stderr piped."""
    return await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "argyll", "serve", "--port", "0", *flags),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )


async def ready_url(process: asyncio.subprocess.Process) -> str:
    """The served URL from the ready line (bounded wait)."""
    assert process.stdout is not None and process.stderr is not None
    async with asyncio.timeout(20):
        line = (await process.stdout.readline()).decode()
    ready = READY.search(line)
    assert ready, line + (await process.stderr.read()).decode()
    return ready.group(1)


async def stop(process: asyncio.subprocess.Process, signum: int = signal.SIGTERM) -> str:
    """Signal the process, expect exit code 0 within a bounded time, return its stderr."""
    assert process.stderr is not None
    process.send_signal(signum)
    async with asyncio.timeout(15):
        _, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return err.decode()


@asynccontextmanager
async def argyll_serve(*flags: str, env: dict[str, str] | None = None) -> AsyncIterator[str]:
    """A served ``argyll``: yields its URL once ready, then stops it with SIGTERM (exit 0)."""
    process = await spawn(*flags, env=env)
    try:
        yield await ready_url(process)
    finally:
        await stop(process)


async def test_serve_answers_health_and_stops_on_sigterm() -> None:
    async with argyll_serve("--store", "memory://") as url, httpx.AsyncClient() as client:
        response = await client.get(f"{url}/health")
        assert response.status_code == 200
        assert response.json()["store"] == "memory"


async def test_serve_stops_cleanly_on_ctrl_c_and_logs_flows() -> None:
    process = await spawn("--store", "memory://", "--log-level", "info")
    url = await ready_url(process)
    async with httpx.AsyncClient(base_url=url) as client:
        assert (await client.post("/engine/step", json=HELLO)).status_code == 201
        request = {"id": "logged", "goals": ["hello"], "init": {"name": "Ann"}}
        assert (await client.post("/engine/flow", json=request)).status_code == 201
    log = await stop(process, signal.SIGINT)
    assert "event=flow_started flow_id=logged goals=hello" in log
    assert "event=flow_completed flow_id=logged" in log


async def test_json_logs_carry_the_flow_id_of_its_start_and_end() -> None:
    """In the dashboard's server too, /metrics is served beside the API."""
    process = await spawn("--store", "memory://", "--log-level", "info", "--log-format", "json")
    url = await ready_url(process)
    async with httpx.AsyncClient(base_url=url) as client:
        assert (await client.post("/engine/step", json=HELLO)).status_code == 201
        request = {"id": "json-logged", "goals": ["hello"], "init": {"name": "Ann"}}
        assert (await client.post("/engine/flow", json=request)).status_code == 201
        lines = await json_lines_until(process, "event=flow_completed flow_id=json-logged")
        metrics = await client.get("/metrics")
    lines += [json.loads(line) for line in (await stop(process)).splitlines()]
    assert "argyll_flows_started_total 1.0" in metrics.text
    assert all(line.keys() >= {"time", "level", "logger", "message"} for line in lines)
    flow_lines = [line for line in lines if line.get("flow_id") == "json-logged"]
    assert [line["message"].split()[0] for line in flow_lines] == [
        "event=flow_started",
        "event=flow_completed",
    ]
    assert all(line["level"] == "info" for line in flow_lines)


async def json_lines_until(process: asyncio.subprocess.Process, message: str) -> list[dict]:
    """The JSON log lines on stderr up to the first whose message is ``message`` (bounded)."""
    assert process.stderr is not None
    lines: list[dict] = []
    async with asyncio.timeout(20):
        while not lines or lines[-1]["message"] != message:
            lines.append(json.loads(await process.stderr.readline()))
    return lines


async def test_sqlite_store_keeps_steps_across_restarts(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'argyll.db'}"
    async with argyll_serve("--store", store) as url, httpx.AsyncClient(base_url=url) as client:
        assert (await client.post("/engine/step", json=HELLO)).status_code == 201
    async with argyll_serve(env={"ARGYLL_STORE": store}) as url, httpx.AsyncClient() as client:
        response = await client.get(f"{url}/engine/step/hello")
        assert response.status_code == 200
        assert response.json()["id"] == "hello"
        assert (await client.get(f"{url}/health")).json()["store"] == "sqlite"


async def test_a_bad_store_url_exits_non_zero() -> None:
    process = await spawn("--store", "nope://x")
    async with asyncio.timeout(20):
        _, err = await process.communicate()
    assert process.returncode == 1
    assert b"nope://x" in err


def parse(argv: list[str]) -> ServeOptions:
    """The options ``argyll serve ARGV`` runs with (``argv`` starts with ``serve``)."""
    assert argv[0] == "serve"
    with serve.make_context("serve", argv[1:]) as ctx:
        return ServeOptions(**ctx.params)


def test_store_comes_from_the_flag_then_the_environment_then_the_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ARGYLL_STORE", "memory://")
    assert store_url(parse(["serve", "--store", "sqlite:///x.db"])) == "sqlite:///x.db"
    assert store_url(parse(["serve"])) == "memory://"
    monkeypatch.delenv("ARGYLL_STORE")
    monkeypatch.setenv("ARGYLL_HOME", str(tmp_path))
    assert store_url(parse(["serve"])) == f"sqlite:///{tmp_path / 'argyll.db'}"


def test_webhook_base_url_comes_from_the_flag_then_the_environment_then_the_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ARGYLL_WEBHOOK_BASE_URL", raising=False)
    served = "http://127.0.0.1:9000"
    options = engine_options(parse(["serve", "--store", "memory://"]), served)
    assert options["store"] == "memory://"
    assert options["webhook_base_url"] == served
    assert options["outbound"] == ALLOW_ALL
    monkeypatch.setenv("ARGYLL_WEBHOOK_BASE_URL", "http://env:1")
    assert engine_options(parse(["serve"]), served)["webhook_base_url"] == "http://env:1"
    flagged = parse(["serve", "--webhook-base-url", "http://flag:2"])
    assert engine_options(flagged, served)["webhook_base_url"] == "http://flag:2"


def test_bad_flags_are_usage_errors() -> None:
    for argv in (["serve", "--max-body-size", "0"], ["serve", "--log-level", "loud"], []):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 2


def test_log_values_with_spaces_are_quoted() -> None:
    assert kv(event="step_failed", flow_id="f1", error='bad "x" = 1', token=None) == (
        'event=step_failed flow_id=f1 error="bad \\"x\\" = 1"'
    )


async def test_sigterm_during_a_flow_then_restart_finishes_it(tmp_path: Path) -> None:
    """Work in flight at SIGTERM is recorded as it stands; the next start takes it on."""
    from argyll.testing import Call, StepService, wait_until

    store = f"sqlite:///{tmp_path / 'argyll.db'}"
    called, released = asyncio.Event(), asyncio.Event()

    async def answer(call: Call) -> tuple[int, dict[str, int]]:
        called.set()
        await released.wait()
        return 200, {"y": call.body["x"] + 1}

    step = {
        "id": "slow",
        "type": "sync",
        "attributes": {"x": {"role": "required"}, "y": {"role": "output"}},
        "http": {"endpoint": "", "timeout": 60000},
    }
    async with StepService(answer) as service:
        step["http"]["endpoint"] = f"{service.url}/slow"
        async with argyll_serve("--store", store) as url, httpx.AsyncClient(base_url=url) as c:
            assert (await c.post("/engine/step", json=step)).status_code == 201
            request = {"id": "interrupted", "goals": ["slow"], "init": {"x": 1}}
            assert (await c.post("/engine/flow", json=request)).status_code == 201
            async with asyncio.timeout(10):
                await called.wait()
        released.set()
        async with argyll_serve("--store", store) as url, httpx.AsyncClient(base_url=url) as c:

            async def ended() -> bool:
                reply = await c.get("/engine/flow/interrupted/status")
                return reply.json()["status"] != "active"

            await wait_until(ended, "flow interrupted to end", timeout=20)
            state = (await c.get("/engine/flow/interrupted")).json()
    assert state["status"] == "completed"
    assert state["attributes"]["y"] == {"value": 2, "step": "slow"}
    tokens = {call.headers["Argyll-Receipt-Token"] for call in service.calls}
    assert len(tokens) == 1


@pytest.mark.parametrize("mode", [("--no-dashboard",), ()], ids=["api", "dashboard"])
async def test_a_port_in_use_is_one_line_and_exit_1(mode: tuple[str, ...]) -> None:
    async with argyll_serve("--store", "memory://", "--no-dashboard") as url:
        port = url.rsplit(":", 1)[1]
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "argyll", "serve", "--port", port, *mode),
            *("--store", "memory://"),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        async with asyncio.timeout(60):
            out, err = await process.communicate()
    assert process.returncode == 1
    assert out == b""
    lines = err.decode().splitlines()
    assert len(lines) == 1, err.decode()
    assert lines[0].startswith(f"argyll: cannot listen on 127.0.0.1:{port}: ")


async def test_version_of_the_real_command() -> None:
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "argyll", "--version"),
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    async with asyncio.timeout(20):
        out, _ = await process.communicate()
    assert process.returncode == 0
    assert out.decode() == f"argyll {__version__}\n"


async def test_the_api_only_root_page_says_what_is_served() -> None:
    served = argyll_serve("--store", "memory://", "--no-dashboard")
    async with served as url, httpx.AsyncClient() as client:
        page = (await client.get(f"{url}/")).text
    assert "later" not in page
    assert "REST API" in page and 'href="/engine/openapi.json"' in page


# An editable install finds the package with a finder that comes after ``sys.path``'s;
# this script puts one for this tree there, so the current directory's ``argyll`` wins.
SHADOWED_RUN = """
import importlib.machinery, os, runpy, sys

class Installed:
    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name.split(".")[0] != "argyll":
            return None
        where = os.path.join(sys.argv[1], *name.split(".")[:-1])
        return importlib.machinery.PathFinder.find_spec(name, [where])

sys.meta_path.insert(sys.meta_path.index(importlib.machinery.PathFinder) + 1, Installed)
runpy.run_module("argyll", run_name="__main__", alter_sys=True)
"""


async def test_python_m_argyll_beside_a_checkout_named_argyll_says_why_it_fails(
    tmp_path: Path,
) -> None:
    (tmp_path / "argyll").mkdir()
    (tmp_path / "argyll" / "README.md").write_text("a checkout, not the package")
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-c", SHADOWED_RUN, str(ROOT)),
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    async with asyncio.timeout(20):
        _, err = await process.communicate()
    assert process.returncode == 1
    message = err.decode()
    assert "Traceback" not in message
    shadow = tmp_path / "argyll"
    assert message.startswith(f"argyll: the directory {shadow} hides the argyll package")
