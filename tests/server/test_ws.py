"""GET /engine/ws: the live feed, per-flow catch-up with no gap at the seam, bounded queues."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from server_support import (
    HELLO,
    Api,
    async_step,
    next_event,
    read_event,
    running_api,
)
from tornado.httpclient import HTTPClientError
from tornado.websocket import WebSocketClientConnection

from argyll.server.ws import CLOSE_GOING_AWAY, CLOSE_TRY_AGAIN_LATER, Outbox
from argyll.testing import StepService, script_step, wait_until

CHAIN = [
    script_step(f"s{i}", f"{{:a{i + 1} (+ a{i} 1)}}", requires=[f"a{i}"], outputs=[f"a{i + 1}"])
    for i in range(8)
]


@pytest.fixture
async def service() -> AsyncIterator[StepService]:
    async with StepService(lambda call: (200, {})) as running:
        yield running


async def register(api: Api, *definitions: dict[str, Any]) -> None:
    for definition in definitions:
        response = await api.client.post("/engine/step", json=definition)
        assert response.status_code in {200, 201}, response.text


async def read_flow(connection: WebSocketClientConnection) -> list[dict[str, Any]]:
    """Events until the flow's last one (flow_deactivated, after its end)."""
    events = [await next_event(connection)]
    while events[-1]["type"] != "flow_deactivated":
        events.append(await next_event(connection))
    return events


def assert_gapless(events: list[dict[str, Any]]) -> None:
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))


async def test_flow_feed_sends_the_past_then_live_events(api: Api, service: StepService) -> None:
    await register(api, HELLO, async_step("approve", service.url, ["greeting"], ["ok"]))
    started = {"id": "w1", "goals": ["approve"], "init": {"name": "Ann"}}
    assert (await api.client.post("/engine/flow", json=started)).status_code == 201
    call = await wait_until(lambda: _first_call(service), "a call of approve")
    past = (await api.client.get("/engine/flow/w1/events")).json()["events"]

    async with api.websocket("?flow_id=w1") as connection:
        received = [await next_event(connection) for _ in past]
        assert received == past
        webhook = call.headers["Argyll-Webhook-Url"].removeprefix(api.url)
        assert (await api.client.post(webhook, json={"ok": True})).status_code == 200
        received += await read_flow(connection)

    assert_gapless(received)
    assert received == (await api.client.get("/engine/flow/w1/events")).json()["events"]
    assert all(e["aggregate"] == "flow:w1" for e in received)


def _first_call(service: StepService) -> Any:
    return service.calls[0] if service.calls else None


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
async def test_no_gap_or_duplicate_when_connecting_while_flows_run(
    backend: str, tmp_path: Path
) -> None:
    store = "memory://" if backend == "memory" else f"sqlite:///{tmp_path / 'argyll.db'}"
    async with running_api(store) as api:
        await register(api, *CHAIN)
        await follow_flows_while_they_run(api)


async def follow_flows_while_they_run(api: Api) -> None:

    async def start_and_follow(number: int) -> list[dict[str, Any]]:
        request = {"id": f"c{number}", "goals": ["s7"], "init": {"a0": number}}
        response = await api.client.post("/engine/flow", json=request)
        assert response.status_code == 201
        async with api.websocket(f"?flow_id=c{number}") as connection:
            return await read_flow(connection)

    results = await asyncio.gather(*(start_and_follow(n) for n in range(12)))
    for number, events in enumerate(results):
        assert_gapless(events)
        stored = (await api.client.get(f"/engine/flow/c{number}/events")).json()["events"]
        assert events == stored


async def test_a_flow_id_not_started_yet_is_waited_for(api: Api) -> None:
    await register(api, HELLO)
    async with api.websocket("?flow_id=later") as connection:
        request = {"id": "later", "goals": ["hello"], "init": {"name": "Ann"}}
        assert (await api.client.post("/engine/flow", json=request)).status_code == 201
        events = await read_flow(connection)
    assert_gapless(events)
    assert events[0]["type"] == "flow_started"
    assert [e["type"] for e in events[-2:]] == ["flow_completed", "flow_deactivated"]


async def test_plain_feed_sends_every_new_event(api: Api) -> None:
    async with api.websocket() as connection:
        await register(api, HELLO)
        registered = await next_event(connection)
        assert registered["type"] == "step_registered"
        assert registered["aggregate"] == "catalog"
        request = {"id": "f1", "goals": ["hello"], "init": {"name": "Ann"}}
        assert (await api.client.post("/engine/flow", json=request)).status_code == 201
        events = await read_flow(connection)
    assert {"type", "aggregate", "seq", "timestamp", "data"} <= events[0].keys()
    assert_gapless(events)
    assert events == (await api.client.get("/engine/flow/f1/events")).json()["events"]


async def test_invalid_flow_id_is_refused_before_the_upgrade(api: Api) -> None:
    with pytest.raises(HTTPClientError) as refused:
        async with api.websocket("?flow_id=not%20an%20id"):
            pass
    assert refused.value.code == 400


async def test_plain_get_of_the_socket_is_a_problem(api: Api) -> None:
    response = await api.client.get("/engine/ws")
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"


def test_outbox_refuses_once_the_client_is_limit_behind() -> None:
    async def scenario() -> None:
        outbox = Outbox(3)
        assert [outbox.offer(f"m{i}") for i in range(3)] == [True, True, True]
        assert outbox.offer("m3") is False
        assert len(outbox) == 3
        assert await outbox.take() == "m0"
        assert outbox.offer("m4") is True
        assert [await outbox.take() for _ in range(3)] == ["m1", "m2", "m4"]

    asyncio.run(scenario())


async def test_a_client_that_falls_behind_is_closed_and_the_engine_goes_on() -> None:
    async with running_api(ws_queue_limit=1) as api:
        await register(api, HELLO)
        async with api.websocket() as connection:
            request = {"id": "burst", "goals": ["hello"], "init": {"name": "Ann"}}
            assert (await api.client.post("/engine/flow", json=request)).status_code == 201
            while await read_event(connection) is not None:
                pass
            assert connection.close_code == CLOSE_TRY_AGAIN_LATER
            assert connection.close_reason and "behind" in connection.close_reason
        await api.wait_flow("burst")


async def test_a_client_that_never_reads_does_not_hold_up_others(api: Api) -> None:
    await register(api, HELLO)
    async with api.websocket() as idle, api.websocket() as reader:
        for number in range(20):
            request = {"id": f"f{number}", "goals": ["hello"], "init": {"name": str(number)}}
            assert (await api.client.post("/engine/flow", json=request)).status_code == 201
        assert await completed_flows(reader, 20) == {f"f{number}" for number in range(20)}
        for number in range(20):
            await api.wait_flow(f"f{number}")
        assert idle.close_code is None
        assert await completed_flows(idle, 20) == {f"f{number}" for number in range(20)}


async def completed_flows(connection: WebSocketClientConnection, count: int) -> set[str]:
    """Read events until ``count`` flows have completed; their ids."""
    completed: set[str] = set()
    while len(completed) < count:
        event = await next_event(connection)
        if event["type"] == "flow_completed":
            completed.add(event["data"]["flow_id"])
    return completed


async def test_clients_are_told_when_the_server_stops(api: Api) -> None:
    async with api.websocket() as connection:
        await api.server.aclose()
        assert await read_event(connection) is None
        assert connection.close_code == CLOSE_GOING_AWAY
