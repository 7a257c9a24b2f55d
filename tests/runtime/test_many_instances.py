"""Several `argyll serve` processes on one Redis: no locks, no leader, nothing done twice."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import httpx
import pytest

from argyll.testing import Call, StepService, script_step, wait_until

ROOT = Path(__file__).parents[2]
READY = re.compile(r"argyll serving on (http://\S+)")


@asynccontextmanager
async def instance(store: str) -> AsyncIterator[tuple[str, asyncio.subprocess.Process]]:
    """One `argyll serve --no-dashboard` process; killed (if still alive) on the way out."""
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "argyll", "serve", "--no-dashboard", "--port", "0"),
        *("--store", store),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(30):
            line = (await process.stdout.readline()).decode()
        ready = READY.search(line)
        assert ready, line
        yield ready.group(1), process
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(15):
                await process.wait()


def steps(service: str) -> list[dict]:
    """A mix: an Ale step, a slowish sync HTTP step, an async HTTP step, a Lua step after both."""
    return [
        script_step("calc", "{:total (* n 2)}", requires=["n"], outputs=["total"]),
        {
            "id": "fetch",
            "type": "sync",
            "attributes": {"total": {"role": "required"}, "fetched": {"role": "output"}},
            "http": {"endpoint": f"{service}/fetch"},
        },
        {
            "id": "pay",
            "type": "async",
            "attributes": {"total": {"role": "required"}, "paid": {"role": "output"}},
            "http": {"endpoint": f"{service}/pay"},
        },
        script_step(
            "done",
            "return {summary = fetched .. '/' .. paid}",
            language="lua",
            requires=["fetched", "paid"],
            outputs=["summary"],
        ),
    ]


class Services:
    """Step services: `fetch` answers after a pause; `pay` acknowledges, then posts its webhook."""

    def __init__(self, pause: float) -> None:
        self.pause = pause
        self.tasks: set[asyncio.Task[None]] = set()

    async def answer(self, call: Call) -> tuple[int, dict]:
        await asyncio.sleep(self.pause)
        if call.path == "/fetch":
            return 200, {"fetched": f"f{call.body['total']}"}
        task = asyncio.create_task(self.complete(call))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return 202, {}

    async def complete(self, call: Call) -> None:
        await asyncio.sleep(self.pause)
        # If that instance died, the survivor re-dispatches with the same token.
        async with httpx.AsyncClient() as client:
            with contextlib.suppress(httpx.TransportError):
                await client.post(call.headers["Argyll-Webhook-Url"], json={"paid": "ok"})


GOALS = [["calc"], ["fetch"], ["done"]]


async def run_flows(urls: list[str], count: int, prefix: str) -> list[str]:
    """Start ``count`` flows round-robin over the instances, a mix of goals."""
    ids = [f"{prefix}-{i}" for i in range(count)]
    async with httpx.AsyncClient(timeout=30) as client:
        for i, flow_id in enumerate(ids):
            body = {"id": flow_id, "goals": GOALS[i % len(GOALS)], "init": {"n": i}}
            reply = await client.post(f"{urls[i % len(urls)]}/engine/flow", json=body)
            assert reply.status_code == 201, reply.text
    return ids


async def finished(client: httpx.AsyncClient, url: str, ids: list[str]) -> bool:
    reply = await client.get(f"{url}/engine/flow", params={"status": "active"})
    active = {flow["id"] for flow in reply.json()["flows"]}
    return not active & set(ids)


async def check_every_flow(url: str, ids: list[str]) -> int:
    """Each flow completed with the right values; each receipt token succeeded exactly once.

    Returns how many attempts were claimed again (by a survivor) under the same token.
    """
    reclaimed = 0
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        await wait_until(
            lambda: finished(client, url, ids),
            f"every flow ended on {url}",
            timeout=60,
            interval=0.1,
        )
        for i, flow_id in enumerate(ids):
            state = (await client.get(f"/engine/flow/{flow_id}")).json()
            assert state["status"] == "completed", (flow_id, state.get("error"))
            if GOALS[i % len(GOALS)] == ["done"]:
                assert state["attributes"]["summary"]["value"] == f"f{2 * i}/ok"
            events = (await client.get(f"/engine/flow/{flow_id}/events")).json()["events"]
            wins = collections.Counter(
                e["data"]["token"] for e in events if e["type"] == "work_succeeded"
            )
            assert wins and set(wins.values()) == {1}, (flow_id, wins)
            starts = collections.Counter(
                (e["data"]["token"], e["data"]["retry_count"])
                for e in events
                if e["type"] == "work_started"
            )
            reclaimed += sum(count - 1 for count in starts.values())
    return reclaimed


@pytest.mark.parametrize("instances", [2, 3])
async def test_instances_share_one_redis_and_run_each_item_once(redis_url: str, instances: int):
    services = Services(pause=0.01)
    async with AsyncExitStack() as stack:
        service = await stack.enter_async_context(StepService(services.answer))
        running = [await stack.enter_async_context(instance(redis_url)) for _ in range(instances)]
        urls = [url for url, _ in running]
        async with httpx.AsyncClient() as client:
            for definition in steps(service.url):
                reply = await client.post(f"{urls[0]}/engine/step", json=definition)
                assert reply.status_code == 201
            for url in urls[1:]:
                await wait_until(lambda u=url: catalog_has(client, u, 4), f"4 steps on {url}")
        ids = await run_flows(urls, 200, "mixed")
        for url in urls:
            assert await check_every_flow(url, ids) == 0


async def catalog_has(client: httpx.AsyncClient, url: str, count: int) -> bool:
    return (await client.get(f"{url}/engine/step")).json()["count"] == count


async def test_killing_an_instance_mid_flow_leaves_the_others_to_finish(redis_url: str):
    services = Services(pause=0.3)
    async with AsyncExitStack() as stack:
        service = await stack.enter_async_context(StepService(services.answer))
        (doomed_url, doomed), (survivor_url, _) = [
            await stack.enter_async_context(instance(redis_url)) for _ in range(2)
        ]
        async with httpx.AsyncClient() as client:
            for definition in steps(service.url):
                assert (await client.post(f"{doomed_url}/engine/step", json=definition)).is_success
            await wait_until(
                lambda: catalog_has(client, survivor_url, 4), "4 steps on the survivor"
            )
        ids = await run_flows([doomed_url], 30, "orphan")
        await wait_until(lambda: len(service.calls) >= 10, "10 step calls", timeout=20)
        doomed.send_signal(signal.SIGKILL)
        await doomed.wait()
        assert await check_every_flow(survivor_url, ids) > 0
