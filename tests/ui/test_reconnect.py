"""The dashboard over a remote engine that stops and comes back, in Debian's Chromium.

Three processes: ``argyll serve --no-dashboard`` on a fixed free port with a
SQLite store in the test's tmp dir (so state survives a restart), and
``panel serve apps/dashboard.py`` with ``ARGYLL_ENGINE_URL`` pointing at it.
The test stops the *engine*: the page's own server stays up, so what the
browser shows is the dashboard's view of its engine, the case a user meets
when the engine restarts under an open page.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from test_dashboard import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, REASON, TIMEOUT_MS

from argyll.testing import script_step
from argyll.ui.serve import free_port

ROOT = Path(__file__).resolve().parents[2]
READY_S = 60.0
STEP = script_step("reconnect-probe", "{:out (+ n 1)}", requires=["n"], outputs=["out"])

pytestmark = [pytest.mark.browser, pytest.mark.skipif(REASON is not None, reason=REASON or "")]

if REASON is None:
    from playwright.async_api import async_playwright, expect


class Process:
    """A child process and the line of its output that says it is ready."""

    def __init__(self, args: list[str], env: dict[str, str], ready: str) -> None:
        self.args, self.env, self.ready = args, env, ready
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            *self.args,
            env={**os.environ, "PYTHONPATH": str(ROOT), **self.env},
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        assert self.process.stdout is not None
        seen: list[str] = []
        async with asyncio.timeout(READY_S):
            while self.ready not in (line := (await self.process.stdout.readline()).decode()):
                assert line, f"{self.args[:4]} exited: {''.join(seen)}"
                seen.append(line)
        asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        while await self.process.stdout.readline():
            pass

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            async with asyncio.timeout(READY_S):
                await self.process.wait()


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[tuple[Process, str]]:
    port = free_port()
    store = f"sqlite:///{tmp_path / 'engine.db'}"
    args = [sys.executable, "-m", "argyll", "serve", "--no-dashboard", "--store", store]
    process = Process([*args, "--port", str(port)], {}, "argyll serving on")
    await process.start()
    try:
        yield process, f"http://127.0.0.1:{port}"
    finally:
        await process.stop()


@pytest.fixture
async def dashboard(engine: tuple[Process, str]) -> AsyncIterator[str]:
    port = free_port()
    args = [sys.executable, "-m", "panel", "serve", "apps/dashboard.py", "--port", str(port)]
    args += ["--address", "127.0.0.1", "--allow-websocket-origin", f"127.0.0.1:{port}"]
    process = Process(args, {"ARGYLL_ENGINE_URL": engine[1]}, "running at")
    await process.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await process.stop()


async def test_the_page_shows_the_engine_going_away_and_catches_up_when_it_is_back(
    engine: tuple[Process, str], dashboard: str
) -> None:
    process, engine_url = engine
    async with httpx.AsyncClient(base_url=engine_url) as client:
        (await client.post("/engine/step", json=STEP)).raise_for_status()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        page = await browser.new_page(viewport={"width": 1500, "height": 1000})
        page.set_default_timeout(TIMEOUT_MS)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(dashboard)
        state = page.locator(".connection")
        await expect(state).to_have_class(re.compile("connection-live"), timeout=60_000)
        await expect(page.locator(".count-steps")).to_have_text("1")

        await process.stop()
        await expect(state).to_have_class(re.compile("connection-(reconnecting|lost)"))
        await expect(state).to_contain_text(re.compile("reconnecting|lost"))
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "13-engine-gone.png"))

        await process.start()
        async with httpx.AsyncClient(base_url=engine_url) as client:
            body = {"goals": [STEP["id"]], "init": {"n": 1}}
            reply = await client.post("/engine/flow", json=body)
            reply.raise_for_status()
            flow_id = reply.json()["flow_id"]
        await expect(state).to_have_class(re.compile("connection-live"))
        await expect(state).to_contain_text("live")
        await expect(page.locator(".tabulator-row", has_text=flow_id)).to_be_visible()
        await page.screenshot(path=str(ARTIFACTS / "14-engine-back.png"))
        assert errors == []
        await browser.close()


async def test_a_page_whose_own_server_stops_says_the_connection_is_lost(tmp_path: Path) -> None:
    port = free_port()
    store = f"sqlite:///{tmp_path / 'engine.db'}"
    args = [sys.executable, "-m", "argyll", "serve", "--store", store, "--port", str(port)]
    process = Process(args, {}, "argyll serving on")
    await process.start()
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
            )
            page = await browser.new_page(viewport={"width": 1500, "height": 1000})
            page.set_default_timeout(TIMEOUT_MS)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            await page.goto(f"http://127.0.0.1:{port}")
            await expect(page.locator(".connection-live")).to_be_visible(timeout=60_000)
            await expect(page.locator(".notyf__toast")).to_have_count(0)
            await process.stop()
            toast = page.locator(".notyf__toast")
            await expect(toast).to_contain_text("Connection lost")
            state = page.locator(".connection")
            await expect(state).to_have_class(re.compile("connection-lost"))
            await expect(state).to_contain_text("lost")
            await page.screenshot(path=str(ARTIFACTS / "15-page-server-gone.png"))
            assert errors == []
            await browser.close()
    finally:
        await process.stop()
