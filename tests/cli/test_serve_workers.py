"""``argyll serve --workers 2``: two engine processes behind one port, on SQLite and Redis."""

from __future__ import annotations

import asyncio
import signal
import socket
from pathlib import Path

import httpx
import pytest
from cli_support import finish, spawn, unused_port

from argyll.testing import StepService, script_step, wait_until

HELLO = script_step("hello", '{:greeting "hi"}', outputs=["greeting"])
FLOWS = 30


@pytest.fixture(params=["sqlite", "redis"])
def shared_store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "redis":
        return str(request.getfixturevalue("redis_url"))
    return f"sqlite:///{tmp_path / 'argyll.db'}"


def approval(endpoint: str) -> dict:
    return {
        "id": "approve",
        "type": "async",
        "attributes": {"ok": {"role": "output"}},
        "http": {"endpoint": endpoint, "timeout": 5000},
    }


async def fresh_post(url: str, path: str, body: dict) -> httpx.Response:
    """A request on a connection of its own, so the kernel may hand it to either worker."""
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.post(f"{url}{path}", json=body)


async def test_flows_and_webhooks_through_one_port_land_on_either_worker(
    shared_store: str,
) -> None:
    port = unused_port()
    url = f"http://127.0.0.1:{port}"
    process = await spawn("serve", "--workers", "2", "--port", str(port), "--store", shared_store)
    try:
        assert process.stdout is not None
        async with asyncio.timeout(60):
            assert (await process.stdout.readline()).decode().startswith(f"argyll serving on {url}")
        async with StepService(lambda call: (202, {"accepted": True})) as service:
            for step in (HELLO, approval(service.url)):
                assert (await fresh_post(url, "/engine/step", step)).status_code == 201
            started = await asyncio.gather(
                *(
                    fresh_post(url, "/engine/flow", {"id": f"w{n}", "goals": [goal]})
                    for n in range(FLOWS)
                    for goal in [("hello", "approve")[n % 2]]
                )
            )
            assert [reply.status_code for reply in started] == [201] * FLOWS, started[0].text
            await wait_until(lambda: len(service.calls) == FLOWS // 2, "every approval call")
            webhooks = [call.headers["Argyll-Webhook-Url"] for call in service.calls]
            answers = await asyncio.gather(*(fresh_post(hook, "", {"ok": 1}) for hook in webhooks))
            assert {reply.status_code for reply in answers} == {200}

        async def all_completed() -> bool:
            async with httpx.AsyncClient(base_url=url, timeout=10) as client:
                listed = await client.get("/engine/flow", params={"status": "completed"})
            return len(listed.json()["flows"]) == FLOWS

        await wait_until(all_completed, "every flow to complete", timeout=30)
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            instances = {
                event["data"]["instance"]
                for n in range(FLOWS)
                for event in (await client.get(f"/engine/flow/w{n}/events")).json()["events"]
                if event["type"] == "work_started"
            }
        assert len(instances) == 2, instances  # both workers took some of the work
    finally:
        process.send_signal(signal.SIGTERM)
        code, _, err = await finish(process)
    assert code == 0, err


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (["--demo"], "--demo needs the dashboard"),
        (["--store", "memory://"], "workers share their store"),
    ],
)
async def test_what_one_process_only_can_do_is_refused_with_workers(
    flags: list[str], said: str
) -> None:
    process = await spawn("serve", "--workers", "2", *flags, "--port", str(unused_port()))
    code, _, err = await finish(process)
    assert code == 2
    assert said in err


async def test_a_port_in_use_is_refused_before_any_worker_starts(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        store = f"sqlite:///{tmp_path / 'argyll.db'}"
        process = await spawn("serve", "--workers", "2", "--port", str(port), "--store", store)
        code, out, err = await finish(process)
    assert code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in err
    assert "argyll serving on" not in out
