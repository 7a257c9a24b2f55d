"""``argyll serve`` on a store full of running flows: the port answers at once, 503 until ready."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import httpx
from cli_support import finish, spawn, unused_port

from argyll.store import open_store
from argyll.testing import script_step, wait_until, write_orphaned_flows

DOUBLE = script_step("double", "{:y (* 2 x)}", requires=["x"], outputs=["y"])
FLOWS = 4000
"""Enough that reading them back takes a while on any machine."""


async def first_answer(url: str) -> httpx.Response:
    """The first reply the server gives, polling from before it listens."""

    async def answered() -> httpx.Response | None:
        try:
            return await client.get(f"{url}/health")
        except httpx.TransportError:
            return None

    async with httpx.AsyncClient(timeout=5) as client:
        return await wait_until(answered, "the port to answer", timeout=30, interval=0.005)


async def test_the_port_answers_503_while_starting_then_every_flow_goes_on(
    tmp_path: Path,
) -> None:
    store = f"sqlite:///{tmp_path / 'argyll.db'}"
    async with await open_store(store) as opened:
        ids = await write_orphaned_flows(opened, DOUBLE, FLOWS, init={"x": 4})
    port = unused_port()
    url = f"http://127.0.0.1:{port}"
    process = await spawn("serve", "--no-dashboard", "--port", str(port), "--store", store)
    try:
        starting = await first_answer(url)
        assert starting.status_code == 503, starting.text
        assert starting.headers["retry-after"] == "1"
        assert starting.headers["content-type"].startswith("application/problem+json")
        assert starting.json()["type"] == "urn:argyll:problem:engine-starting"
        async with httpx.AsyncClient(base_url=url, timeout=5) as client:
            refused = await client.get(f"/engine/flow/{ids[0]}")
            assert refused.status_code in (200, 503)  # it may have become ready meanwhile

            async def healthy() -> bool:  # each 503 closes its connection and says so
                return (await client.get("/health")).status_code == 200

            await wait_until(healthy, "the engine to be ready", timeout=60)

            async def all_completed() -> bool:
                counts = (await client.get("/engine")).json()["flow_counts"]
                return counts.get("completed") == FLOWS

            await wait_until(all_completed, "every flow to complete", timeout=60)
            state = (await client.get(f"/engine/flow/{ids[-1]}")).json()
            assert state["attributes"]["y"]["value"] == 8
    finally:
        process.send_signal(signal.SIGTERM)
        code, out, err = await finish(process)
    assert code == 0, err
    assert f"argyll serving on {url}" in out


async def test_a_store_that_cannot_open_closes_the_port_and_exits_1(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    port = unused_port()
    process = await spawn(
        "serve", "--no-dashboard", "--port", str(port), "--store", f"sqlite:///{blocker}/x.db"
    )
    code, _, err = await finish(process)
    assert code == 1
    assert "cannot start the engine" in err
    async with asyncio.timeout(5):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            return
        writer.close()
        raise AssertionError("the port is still open after a failed start")
