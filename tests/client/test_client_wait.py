"""``Client.wait_flow`` and ``AsyncClient.wait_flow`` over long polls: no polling, bounded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from argyll import Engine
from argyll.client import AsyncClient, Client
from argyll.client.protocol import FlowWait
from argyll.decide import Succeeded
from argyll.model import FlowID, FlowState, FlowStatus, Plan
from argyll.server.app import Server, base_url, bind, serve
from argyll.testing import StepService, script_step, wait_until
from argyll.wire import MAX_WAIT

HELLO = script_step(
    "hello", '{:greeting (str "Hi " name)}', requires=["name"], outputs=["greeting"]
)


@pytest.fixture
async def served() -> AsyncIterator[tuple[Engine, Server, StepService]]:
    sockets = bind("127.0.0.1", 0)
    async with (
        StepService(lambda call: (200, {})) as service,
        Engine(webhook_base_url=base_url(sockets[0])) as engine,
    ):
        await engine.register_step(HELLO)
        await engine.register_step(
            {
                "id": "approve",
                "type": "async",
                "attributes": {"name": {"role": "required"}, "ok": {"role": "output"}},
                "http": {"endpoint": service.url, "timeout": 5000},
            }
        )
        server = await serve(engine, sockets=sockets)
        try:
            yield engine, server, service
        finally:
            await server.aclose()


async def held_flow(engine: Engine, service: StepService, flow_id: str) -> str:
    """A flow waiting for its async step's result; returns the receipt token."""
    await engine.start_flow(["approve"], {"name": "Ann"}, flow_id)
    call = await wait_until(
        lambda: next((c for c in service.calls if c.headers["Argyll-Flow-Id"] == flow_id), None),
        "the step's call",
    )
    return str(call.headers["Argyll-Receipt-Token"])


def requests_of(client: Any) -> list[httpx.Request]:
    """Every request ``client`` sends from now on."""
    sent: list[httpx.Request] = []

    async def record(request: httpx.Request) -> None:
        sent.append(request)

    hook = record if isinstance(client, AsyncClient) else sent.append
    client._http.event_hooks["request"].append(hook)
    return sent


async def test_the_sync_client_waits_with_one_request(
    served: tuple[Engine, Server, StepService],
) -> None:
    engine, server, service = served
    token = await held_flow(engine, service, "cw1")
    with Client(server.url) as client:
        sent = requests_of(client)
        waited = asyncio.create_task(asyncio.to_thread(client.wait_flow, "cw1", 10))
        await wait_until(lambda: engine._flows.awaited(FlowID("cw1")), "the wait to be held")
        await engine.complete_work("cw1", "approve", token, Succeeded({"ok": True}))
        state = await asyncio.wait_for(waited, 5)
    assert state.status is FlowStatus.COMPLETED
    assert [(r.method, r.url.path) for r in sent] == [("GET", "/engine/flow/cw1")]
    assert 9 < float(sent[0].url.params["wait"]) <= 10


async def test_the_async_client_waits_with_one_request_and_times_out_when_told(
    served: tuple[Engine, Server, StepService],
) -> None:
    engine, server, service = served
    token = await held_flow(engine, service, "cw2")
    async with AsyncClient(server.url) as client:
        with pytest.raises(TimeoutError):
            await client.wait_flow("cw2", timeout=0.3)
        sent = requests_of(client)
        waited = asyncio.create_task(client.wait_flow("cw2", timeout=10))
        await wait_until(lambda: engine._flows.awaited(FlowID("cw2")), "the wait to be held")
        await engine.complete_work("cw2", "approve", token, Succeeded({"ok": True}))
        state = await asyncio.wait_for(waited, 5)
    assert state.attributes["ok"].value is True
    assert len(sent) == 1


async def test_reads_that_wait_answer_at_the_bound_as_the_flow_stands(
    served: tuple[Engine, Server, StepService],
) -> None:
    engine, server, service = served
    await held_flow(engine, service, "cw3")
    async with AsyncClient(server.url) as client:
        assert await client.flow_status("cw3", wait=0.2) is FlowStatus.ACTIVE
        assert (await client.get_flow("cw3", wait=0.2)).status is FlowStatus.ACTIVE
        done = await client.start_flow(["hello"], {"name": "Bo"})
        assert await client.flow_status(done, wait=10) is FlowStatus.COMPLETED


def test_each_round_asks_for_the_time_left_and_at_most_the_servers_bound() -> None:
    now = [100.0]
    waiting = FlowWait("f", 150.0, clock=lambda: now[0])
    first = waiting.call()
    assert (first.params, first.hold) == ({"wait": f"{MAX_WAIT:.3f}"}, MAX_WAIT)
    now[0] += 145.5
    assert waiting.call().params == {"wait": "4.500"}
    now[0] += 10
    assert waiting.call().params == {"wait": "0.000"}


def test_a_round_that_finds_the_flow_running_asks_again_until_the_time_is_up() -> None:
    now = [0.0]
    waiting = FlowWait("f", 5.0, clock=lambda: now[0])
    running = FlowState(
        FlowID("f"), Plan(goals=(), required=(), steps={}, attributes={}), {}, datetime.now(UTC)
    )
    assert waiting.ended(running) is None
    done = replace(running, status=FlowStatus.COMPLETED)
    assert waiting.ended(done) is done
    now[0] = 5.0
    with pytest.raises(TimeoutError):
        waiting.ended(running)
