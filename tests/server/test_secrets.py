"""No secret is shown: a store password, a webhook's receipt token, an Authorization header.

A real ``argyll serve`` on Redis with ``default:PASSWORD@`` in its store URL (a
Redis without ACLs takes any password for ``default``) runs a flow through a
webhook and a failing step, with debug logs; then every log line, the ready line,
the events, problem details, /health, /engine and /metrics are searched.
"""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest
from test_cli import READY, spawn, stop

from argyll.testing import Call, StepService, wait_until


def answer(call: Call) -> tuple[int, dict]:
    """The async step acknowledges; the other fails once for a while (a retry), then for good."""
    if call.path == "/fail":
        if not FAILED_ONCE:
            FAILED_ONCE.append(call)
            return 503, {"detail": "try again"}
        return 422, {"detail": "refused on purpose"}
    return 202, {"accepted": True}


FAILED_ONCE: list[Call] = []


def step(step_id: str, kind: str, endpoint: str, requires: str, output: str) -> dict:
    return {
        "id": step_id,
        "type": kind,
        "attributes": {requires: {"role": "required"}, output: {"role": "output"}},
        "http": {"endpoint": endpoint, "timeout": 5000},
        "work_config": {"max_retries": 2, "init_backoff": 10, "backoff_type": "fixed"},
    }


async def ended(client: httpx.AsyncClient, flow_id: str) -> str | None:
    status = (await client.get(f"/engine/flow/{flow_id}/status")).json()["status"]
    return None if status == "active" else status


@pytest.mark.parametrize("log_format", ["text", "json"])
async def test_no_secret_is_shown_after_a_run_that_used_them(
    redis_url: str, log_format: str
) -> None:
    password = f"pw-{uuid.uuid4().hex}"
    bearer = f"tok-{uuid.uuid4().hex}"
    store = redis_url.replace("redis://", f"redis://default:{password}@", 1)
    flags = ("--store", store, "--no-dashboard", "--log-level", "debug")
    shown: list[str] = []
    FAILED_ONCE.clear()
    async with StepService(answer) as service:
        process = await spawn(*flags, "--log-format", log_format)
        assert process.stdout is not None
        async with asyncio.timeout(20):
            ready = (await process.stdout.readline()).decode()
        match = READY.search(ready)
        assert match, ready
        shown.append(ready)
        headers = {"Authorization": f"Bearer {bearer}"}
        async with httpx.AsyncClient(base_url=match.group(1), headers=headers) as client:
            for definition in (
                step("approve", "async", f"{service.url}/approve", "name", "ok"),
                step("refuse", "sync", f"{service.url}/fail", "ok", "never"),
            ):
                assert (await client.post("/engine/step", json=definition)).status_code == 201
            request = {"id": "secretive", "goals": ["refuse"], "init": {"name": "Ann"}}
            assert (await client.post("/engine/flow", json=request)).status_code == 201
            await wait_until(lambda: service.calls, "the async step to be called")
            webhook = service.calls[0].headers["Argyll-Webhook-Url"]
            receipt = service.calls[0].headers["Argyll-Receipt-Token"]
            wrong = await client.post(webhook.replace(receipt, uuid.uuid4().hex), json={})
            assert wrong.status_code == 404
            assert (await client.post(webhook, json={"ok": True})).status_code == 200
            assert await wait_until(lambda: ended(client, "secretive"), "the flow") == "failed"
            bad = await client.post("/engine/flow", json={"goals": ["nope"], "init": []})
            assert bad.status_code == 400
            for path in ("/engine/flow/secretive/events", "/health", "/engine", "/metrics"):
                reply = await client.get(path)
                assert reply.status_code == 200, path
                shown.append(reply.text)
            events, metrics = shown[-4], shown[-1]
            shown.append(bad.text)
        logs = await stop(process)
    assert "***" in ready and "redis://default:***@127.0.0.1" in ready
    assert 'route="/webhook/{flow_id}/{step_id}/{token}"' in metrics
    assert "/webhook/secretive/approve/***" in logs
    assert "event=step_failed flow_id=secretive" in logs
    assert "event=work_retry_scheduled flow_id=secretive" in logs
    if log_format == "json":
        assert all(json.loads(line) for line in logs.splitlines())
    for secret in (password, bearer, "Bearer", "Authorization"):
        for text in (*shown, logs):
            assert secret.lower() not in text.lower()
    receipts = {call.headers["Argyll-Receipt-Token"] for call in service.calls}
    assert len(receipts) == 2
    assert not [token for token in receipts if token in logs]
    assert receipt in events, "a work item is named by its token: the events must keep it"


async def test_a_store_that_cannot_be_opened_hides_its_password(redis_url: str) -> None:
    password = f"pw-{uuid.uuid4().hex}"
    process = await spawn("--store", f"rediss://default:{password}@127.0.0.1:1/0")
    async with asyncio.timeout(30):
        out, err = await process.communicate()
    assert process.returncode == 1
    assert b"rediss://default:***@127.0.0.1:1/0" in err
    assert password.encode() not in out + err


async def test_the_dashboard_server_logs_no_query_token() -> None:
    """Bokeh's own access lines show the whole URI; the log handler masks what they hold."""
    process = await spawn("--store", "memory://", "--log-level", "debug")
    assert process.stdout is not None
    async with asyncio.timeout(60):
        match = READY.search((await process.stdout.readline()).decode())
    assert match
    secret = uuid.uuid4().hex
    async with httpx.AsyncClient(base_url=match.group(1), timeout=30) as client:
        assert (await client.get(f"/?token={secret}")).status_code == 200
        await client.post(f"/webhook/f1/s1/{secret}", json={})
    logs = await stop(process)
    assert "GET /?token=*** " in logs
    assert secret not in logs
