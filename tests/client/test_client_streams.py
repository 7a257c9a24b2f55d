"""``AsyncClient.stream`` with the server's filters: several flows, types, resuming ``after``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from argyll.client import AsyncClient, protocol
from argyll.server import serve_engine
from argyll.server.app import Server, serve
from argyll.testing import script_step

CHAIN = [
    script_step(f"k{i}", f"{{:b{i + 1} (+ b{i} 1)}}", requires=[f"b{i}"], outputs=[f"b{i + 1}"])
    for i in range(6)
]


@pytest.fixture
async def slow() -> AsyncIterator[Server]:
    """A server whose WebSocket clients are closed when one event behind."""
    async with await serve_engine() as local:
        server = await serve(local.engine, port=0, ws_queue_limit=1)
        try:
            async with AsyncClient(server.url) as client:
                for definition in CHAIN:
                    await client.register_step(definition)
            yield server
        finally:
            await server.aclose()


async def test_a_stream_of_several_flows_ends_when_each_has_ended(slow: Server) -> None:
    async with AsyncClient(slow.url) as client:
        async with client.stream(["m1", "m2"]) as events:
            await client.start_flow(["k5"], {"b0": 0}, "m1")
            await client.start_flow(["k2"], {"b0": 0}, "m2")
            seen = [event async for event in events]
        for flow_id in ("m1", "m2"):
            mine = [e for e in seen if e["aggregate"] == f"flow:{flow_id}"]
            stored = await client.flow_events(flow_id)
            assert mine == stored[: len(mine)]
            assert len(mine) >= len(through_end(stored))


async def test_a_stream_of_some_types(slow: Server) -> None:
    async with AsyncClient(slow.url) as client:
        await client.wait_flow(await client.start_flow(["k5"], {"b0": 0}, "m3"), 10)
        types = ["flow_started", "flow_completed"]
        seen = [event async for event in client.stream("m3", types=types)]
    assert [event["type"] for event in seen] == types


async def test_a_stream_of_every_event_that_falls_behind_goes_on_after_its_last(
    slow: Server,
) -> None:
    async with AsyncClient(slow.url) as client:
        await client.wait_flow(await client.start_flow(["k5"], {"b0": 0}, "m4"), 10)
        seen: list[dict[str, Any]] = []
        async with client.stream(after="") as events:
            async for event in events:
                seen.append(event)
                if (event["type"], event["aggregate"]) == ("flow_deactivated", "flow:m4"):
                    break
        page = await client._http.get("/engine/events", params={"limit": "1000"})
    assert seen == page.json()["events"]


async def test_a_stream_resumes_after_a_position(slow: Server) -> None:
    async with AsyncClient(slow.url) as client:
        await client.wait_flow(await client.start_flow(["k1"], {"b0": 0}, "m5"), 10)
        stored = await client.flow_events("m5")
        rest = [e async for e in client.stream("m5", after=stored[1]["position"])]
    assert rest == through_end(stored)[2:]


def through_end(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A flow's events up to its end event, where a stream of it ends (its deactivation is
    not waited for; it comes along when appended with the end)."""
    ends = [i for i, event in enumerate(events) if event["type"] in protocol.FLOW_ENDED]
    return events[: ends[0] + 1]
