"""WebSocket filters on the server: ``types``, ``flow_id`` lists, ``after`` to resume."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from server_support import HELLO, SHOUT, Api, next_event, read_event, running_api
from tornado.httpclient import HTTPClientError
from tornado.websocket import WebSocketClientConnection

from argyll import codec
from argyll.events import EventData
from argyll.runtime.fanout import FeedFanout
from argyll.store.feed import Wanted
from argyll.testing import wait_until

LAST = {"flow_deactivated"}
"""Every flow's last event (after its end, once nothing of it runs)."""
COMPLETED = {"flow_completed"}


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def served(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Api]:
    if request.param == "redis":
        store = str(request.getfixturevalue("redis_url"))
    elif request.param == "sqlite":
        store = f"sqlite:///{tmp_path / 'argyll.db'}"
    else:
        store = "memory://"
    async with running_api(store) as api:
        for step in (HELLO, SHOUT):
            assert (await api.client.post("/engine/step", json=step)).status_code == 201
        yield api


async def run(api: Api, flow_id: str) -> None:
    request = {"id": flow_id, "goals": ["shout"], "init": {"name": flow_id}}
    reply = await api.client.post("/engine/flow?wait=10", json=request)
    assert reply.json()["state"]["status"] == "completed"


async def stored(api: Api, flow_id: str) -> list[dict[str, Any]]:
    return list((await api.client.get(f"/engine/flow/{flow_id}/events")).json()["events"])


async def until_ended(
    connection: WebSocketClientConnection, flows: int, last: set[str] = LAST
) -> list[dict[str, Any]]:
    """Events until ``flows`` flows have had their ``last`` event."""
    events: list[dict[str, Any]] = []
    while sum(event["type"] in last for event in events) < flows:
        events.append(await next_event(connection))
    return events


async def quiet(connection: WebSocketClientConnection) -> bool:
    """Nothing more arrives (a short bounded look: the server had every chance to send)."""
    try:
        await read_event(connection, timeout=0.2)
    except TimeoutError:
        return True
    return False


def fanout(api: Api) -> FeedFanout:
    return api.server.app.settings["argyll_fanout"]


async def test_types_keep_only_those_events(served: Api) -> None:
    async with served.websocket("?types=flow_started,flow_completed") as connection:
        await run(served, "t1")
        async with served.websocket("?types=flow_started&types=flow_completed") as repeated:
            await run(served, "t2")
            assert [e["type"] for e in await until_ended(repeated, 1, COMPLETED)] == [
                "flow_started",
                "flow_completed",
            ]
        events = await until_ended(connection, 2, COMPLETED)
    assert [(e["type"], e["aggregate"]) for e in events] == [
        ("flow_started", "flow:t1"),
        ("flow_completed", "flow:t1"),
        ("flow_started", "flow:t2"),
        ("flow_completed", "flow:t2"),
    ]
    assert all(e["position"] for e in events)


async def test_flow_ids_listed_get_those_flows_and_nothing_else(served: Api) -> None:
    await run(served, "a")
    async with served.websocket("?flow_id=a,b&flow_id=c") as connection:
        await run(served, "other")
        await run(served, "b")
        await run(served, "c")
        events = await until_ended(connection, 3)
        assert await quiet(connection)
    for flow_id in ("a", "b", "c"):
        assert [e for e in events if e["aggregate"] == f"flow:{flow_id}"] == await stored(
            served, flow_id
        )
    assert {e["aggregate"] for e in events} == {"flow:a", "flow:b", "flow:c"}
    positions = [e["position"] for e in events]
    feed = (await served.client.get("/engine/events", params={"limit": "1000"})).json()
    order = [e["position"] for e in feed["events"]]
    assert sorted(positions, key=order.index) == positions


async def test_flow_ids_and_types_together(served: Api) -> None:
    await run(served, "d")
    async with served.websocket("?flow_id=d&types=step_completed") as connection:
        event = await next_event(connection)
        assert (event["type"], event["data"]["step_id"]) == ("step_completed", "hello")
        event = await next_event(connection)
        assert (event["type"], event["data"]["step_id"]) == ("step_completed", "shout")
        assert await quiet(connection)


async def test_after_resumes_the_feed_with_no_gap_and_no_repeat(served: Api) -> None:
    await run(served, "e")
    past = (await served.client.get("/engine/events", params={"limit": "1000"})).json()["events"]
    cut = past[3]["position"]
    async with served.websocket(f"?after={cut}") as connection:
        replayed = [await next_event(connection) for _ in past[4:]]
        assert replayed == past[4:]
        await run(served, "f")
        live = await until_ended(connection, 1)
    assert live == await stored(served, "f")


async def test_after_resumes_a_flow_stream_where_it_stopped(served: Api) -> None:
    await run(served, "g")
    events = await stored(served, "g")
    async with served.websocket(f"?flow_id=g&after={events[2]['position']}") as connection:
        assert [await next_event(connection) for _ in events[3:]] == events[3:]
        assert await quiet(connection)


async def test_flow_clients_share_one_reader_that_stops_with_the_last(api: Api) -> None:
    for step in (HELLO, SHOUT):
        assert (await api.client.post("/engine/step", json=step)).status_code == 201
    subscribed: list[str | None] = []
    store = api.engine.store
    original = store.subscribe

    def counted(after: str | None = None, wanted: Wanted | None = None) -> Any:
        subscribed.append(after)
        assert wanted is not None  # the reader decodes only the followed flows' events
        return original(after, wanted)

    store.subscribe = counted  # type: ignore[method-assign]
    ids = [f"h{n}" for n in range(5)]
    async with contextlib.AsyncExitStack() as stack:
        connections = [await stack.enter_async_context(api.websocket(f"?flow_id={i}")) for i in ids]
        await asyncio.gather(*(run(api, flow_id) for flow_id in ids))
        for flow_id, connection in zip(ids, connections, strict=True):
            events = await until_ended(connection, 1)
            assert events == await stored(api, flow_id)
        assert subscribed == [None]
        assert fanout(api).reading
    await wait_until(lambda: not fanout(api).reading, "the reader to stop")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?types=nope", "types"),
        ("?types=flow_started,", "types"),
        ("?flow_id=ok,bad!id", "flow_id"),
        ("?after=garbage", "after"),
        ("?flow_id=x&after=1-y", "after"),
    ],
)
async def test_bad_filters_are_refused_before_the_upgrade(api: Api, query: str, field: str) -> None:
    with pytest.raises(HTTPClientError) as refused:
        async with api.websocket(query):
            pass
    assert refused.value.code == 400
    response = refused.value.response
    assert response is not None
    assert field in response.body.decode()
    assert not fanout(api).reading


async def test_a_types_client_has_only_those_events_decoded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read back from the file (a fresh server, so no event is in its memory), the feed
    a ``types=`` client gets decodes no event of another type."""
    store = f"sqlite:///{tmp_path / 'argyll.db'}"
    async with running_api(store) as api:
        for step in (HELLO, SHOUT):
            assert (await api.client.post("/engine/step", json=step)).status_code == 201
        for flow_id in ("d1", "d2"):
            await run(api, flow_id)
    decoded: list[str] = []
    decode = codec.decode

    def counting(event_type: str, *args: Any) -> EventData:
        decoded.append(event_type)
        return decode(event_type, *args)

    async with running_api(store) as api:
        monkeypatch.setattr(codec, "decode", counting)
        async with api.websocket("?types=flow_completed&after=") as connection:
            events = [await next_event(connection) for _ in range(2)]
            assert await quiet(connection)
    assert [(e["type"], e["aggregate"]) for e in events] == [
        ("flow_completed", "flow:d1"),
        ("flow_completed", "flow:d2"),
    ]
    assert decoded == ["flow_completed", "flow_completed"]
