"""``?wait=`` on flow reads and starts: the reply comes when the flow ends or the wait is over."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_support import HELLO, Api, async_step, problem, running_api

from argyll import Engine
from argyll.decide import Succeeded
from argyll.model import FlowID
from argyll.runtime.waiters import Hold
from argyll.server.handlers import parse_wait
from argyll.store import EventStore
from argyll.testing import StepService, wait_until

READS = ("read", "read_all", "flow_summary", "list_flows", "load_snapshot")
"""The store calls that read: none may happen while a long poll waits."""


@pytest.fixture
async def service() -> AsyncIterator[StepService]:
    async with StepService(lambda call: (200, {})) as running:
        yield running


async def start_held(api: Api, service: StepService, flow_id: str) -> str:
    """A flow whose async step waits for its webhook; returns that webhook's path."""
    step = async_step("approve", service.url, ["name"], ["ok"])
    assert (await api.client.post("/engine/step", json=step)).status_code in {200, 201}
    request = {"id": flow_id, "goals": ["approve"], "init": {"name": "Ann"}}
    assert (await api.client.post("/engine/flow", json=request)).status_code == 201
    call = await wait_until(lambda: _call_of(service, flow_id), f"a call of {flow_id}")
    return str(call.headers["Argyll-Webhook-Url"]).removeprefix(api.url)


def _call_of(service: StepService, flow_id: str) -> Any:
    return next((c for c in service.calls if c.headers.get("Argyll-Flow-Id") == flow_id), None)


def count_reads(store: EventStore, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every read call made on ``store`` from now on, by name."""
    made: list[str] = []

    def counted(name: str) -> Callable[..., Any]:
        original = getattr(store, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            made.append(name)
            return original(*args, **kwargs)

        return call

    for name in READS:
        monkeypatch.setattr(store, name, counted(name))
    return made


def awaited(engine: Engine, flow_id: str) -> bool:
    return engine._flows.awaited(FlowID(flow_id))


@pytest.mark.parametrize("path", ["/engine/flow/lp1", "/engine/flow/lp1/status"])
async def test_a_waiting_read_answers_when_the_flow_ends_and_reads_nothing_meanwhile(
    api: Api, service: StepService, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    webhook = await start_held(api, service, "lp1")
    reads = count_reads(api.engine.store, monkeypatch)
    reply = asyncio.create_task(api.client.get(path, params={"wait": "10"}))
    await wait_until(lambda: awaited(api.engine, "lp1"), "the read to wait")
    assert not reply.done()
    assert (await api.client.post(webhook, json={"ok": True})).status_code == 200
    answered = await asyncio.wait_for(reply, 5)
    assert answered.status_code == 200
    assert answered.json()["status"] == "completed"
    assert reads == []


async def test_at_the_bound_the_flow_is_answered_as_it_stands(
    api: Api, service: StepService
) -> None:
    await start_held(api, service, "lp2")
    began = time.monotonic()
    status = await api.client.get("/engine/flow/lp2/status", params={"wait": "0.3"})
    state = await api.client.get("/engine/flow/lp2", params={"wait": "0.2"})
    assert time.monotonic() - began >= 0.5
    assert (status.status_code, status.json()["status"]) == (200, "active")
    assert (state.status_code, state.json()["status"]) == (200, "active")
    assert not awaited(api.engine, "lp2")


async def test_an_ended_flow_is_answered_at_once_from_memory(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (await api.client.post("/engine/step", json=HELLO)).status_code == 201
    request = {"id": "lp3", "goals": ["hello"], "init": {"name": "Ann"}}
    started = await api.client.post("/engine/flow", params={"wait": "10"}, json=request)
    assert started.json()["state"]["status"] == "completed"
    reads = count_reads(api.engine.store, monkeypatch)
    began = time.monotonic()
    for path in ("/engine/flow/lp3", "/engine/flow/lp3/status"):
        reply = await api.client.get(path, params={"wait": "60"})
        assert reply.json()["status"] == "completed"
    assert time.monotonic() - began < 2
    assert reads == []


async def test_a_start_that_waits_answers_with_the_state_at_reply_time(api: Api) -> None:
    assert (await api.client.post("/engine/step", json=HELLO)).status_code == 201
    request = {"id": "lp4", "goals": ["hello"], "init": {"name": "Ann"}}
    created = await api.client.post("/engine/flow?wait=10", json=request)
    assert created.status_code == 201
    body = created.json()
    assert body.keys() == {"message", "flow_id", "state"}
    assert body["flow_id"] == "lp4"
    assert body["state"]["status"] == "completed"
    assert body["state"]["attributes"]["greeting"]["value"] == "Hello, Ann"
    again = await api.client.post("/engine/flow?wait=10", json=request)
    assert again.status_code == 200
    assert again.json()["state"] == body["state"]
    plain = await api.client.post("/engine/flow", json=request)
    assert "state" not in plain.json()


async def test_a_start_that_waits_for_a_held_flow_answers_at_the_bound(
    api: Api, service: StepService
) -> None:
    step = async_step("approve", service.url, ["name"], ["ok"])
    assert (await api.client.post("/engine/step", json=step)).status_code == 201
    request = {"id": "lp5", "goals": ["approve"], "init": {"name": "Ann"}}
    created = await api.client.post("/engine/flow?wait=0.2", json=request)
    assert created.status_code == 201
    assert created.json()["state"]["status"] == "active"


@pytest.mark.parametrize("wait", ["abc", "-1", "1e3", "", "inf", "nan", "1.5s"])
@pytest.mark.parametrize("path", ["/engine/flow/x", "/engine/flow/x/status"])
async def test_a_wait_that_is_not_seconds_is_refused(api: Api, path: str, wait: str) -> None:
    body = problem(await api.client.get(path, params={"wait": wait}), 400)
    assert "wait" in body["detail"]


@pytest.mark.parametrize("wait", ["abc", "-1"])
async def test_a_start_with_a_bad_wait_is_refused_and_starts_nothing(api: Api, wait: str) -> None:
    assert (await api.client.post("/engine/step", json=HELLO)).status_code == 201
    request = {"id": "lp6", "goals": ["hello"], "init": {"name": "Ann"}}
    problem(await api.client.post("/engine/flow", params={"wait": wait}, json=request), 400)
    problem(await api.client.get("/engine/flow/lp6"), 404)


async def test_an_unknown_flow_is_a_404_at_once(api: Api) -> None:
    began = time.monotonic()
    problem(await api.client.get("/engine/flow/nobody", params={"wait": "30"}), 404)
    problem(await api.client.get("/engine/flow/nobody/status", params={"wait": "30"}), 404)
    assert time.monotonic() - began < 2


async def test_a_wait_whose_client_went_away_stops_at_once(api: Api, service: StepService) -> None:
    await start_held(api, service, "lp8")
    async with httpx.AsyncClient(base_url=api.url) as leaving:
        reply = asyncio.create_task(leaving.get("/engine/flow/lp8", params={"wait": "60"}))
        await wait_until(lambda: awaited(api.engine, "lp8"), "the read to wait")
        reply.cancel()
    await wait_until(lambda: not awaited(api.engine, "lp8"), "the wait to stop", timeout=5)


def test_waits_above_the_bound_count_as_the_bound() -> None:
    assert Hold(parse_wait("61") or 0).seconds == Hold(parse_wait("3600") or 0).seconds == 60.0
    assert Hold(parse_wait("0.25") or 0).seconds == 0.25
    assert parse_wait(None) is None


async def test_a_flow_another_instance_runs_ends_the_wait(
    tmp_path: Path, service: StepService
) -> None:
    """The flow is held by a second engine on the same store: the served one learns of its
    end by following the feed."""
    store = f"sqlite:///{tmp_path / 'argyll.db'}"
    async with running_api(store) as api, Engine(store) as other:
        await other.register_step(async_step("approve", service.url, ["name"], ["ok"]))
        await other.start_flow(["approve"], {"name": "Ann"}, "lp7")
        call = await wait_until(lambda: _call_of(service, "lp7"), "a call of lp7")
        reply = asyncio.create_task(
            api.client.get("/engine/flow/lp7/status", params={"wait": "10"})
        )
        await wait_until(lambda: awaited(api.engine, "lp7"), "the read to wait")
        token = call.headers["Argyll-Receipt-Token"]
        await other.complete_work("lp7", "approve", token, Succeeded({"ok": True}))
        answered = await asyncio.wait_for(reply, 5)
    assert answered.json()["status"] == "completed"


async def test_waiting_on_a_flow_that_just_ended_folds_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with Engine() as engine:
        await engine.register_step(HELLO)
        flow_id = await engine.start_flow(["hello"], {"name": "Ann"})
        first = await engine.wait_flow(flow_id, 5)
        reads = count_reads(engine.store, monkeypatch)
        assert await engine.wait_flow(flow_id, 5) is first
        assert await engine.get_flow(flow_id) is first
    assert reads == []
