"""``GET /engine/events`` and ``GET /engine/catalog/events``: the feed paged by position."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from server_support import HELLO, SHOUT, Api, problem, running_api

from argyll.testing import script_step


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def served(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Api]:
    if request.param == "redis":
        store = str(request.getfixturevalue("redis_url"))
    elif request.param == "sqlite":
        store = f"sqlite:///{tmp_path / 'argyll.db'}"
    else:
        store = "memory://"
    async with running_api(store) as api:
        yield api


async def run_flows(api: Api, count: int) -> None:
    for step in (HELLO, SHOUT):
        assert (await api.client.post("/engine/step", json=step)).status_code == 201
    for number in range(count):
        request = {"id": f"p{number}", "goals": ["shout"], "init": {"name": str(number)}}
        reply = await api.client.post("/engine/flow?wait=10", json=request)
        assert reply.json()["state"]["status"] == "completed"


async def pages(api: Api, path: str, limit: int, after: str = "") -> list[dict[str, Any]]:
    """Every page from ``after`` on, until an empty one."""
    found: list[dict[str, Any]] = []
    while True:
        params = {"after": after, "limit": str(limit)}
        page = (await api.client.get(path, params=params)).json()
        assert page["count"] == len(page["events"]) <= limit
        if not page["events"]:
            assert page["next_after"] == after
            return found
        assert page["next_after"] == page["events"][-1]["position"]
        found += page["events"]
        after = page["next_after"]


async def test_the_feed_pages_through_every_event_once_in_order(served: Api) -> None:
    await run_flows(served, 4)
    events = await pages(served, "/engine/events", 7)
    flows = [e for e in events if e["aggregate"].startswith("flow:")]
    for number in range(4):
        stored = (await served.client.get(f"/engine/flow/p{number}/events")).json()["events"]
        assert [e for e in flows if e["aggregate"] == f"flow:p{number}"] == stored
    positions = [e["position"] for e in events]
    assert len(set(positions)) == len(positions)
    assert sum(e["aggregate"] == "catalog" for e in events) == 2
    whole = (await served.client.get("/engine/events", params={"limit": "1000"})).json()
    assert whole["events"] == events


async def test_a_page_resumes_after_the_position_it_was_given(served: Api) -> None:
    await run_flows(served, 2)
    everything = await pages(served, "/engine/events", 1000)
    middle = everything[5]["position"]
    assert await pages(served, "/engine/events", 3, after=middle) == everything[6:]
    await run_flows_more(served)
    newer = await pages(served, "/engine/events", 100, after=everything[-1]["position"])
    assert [e["aggregate"] for e in newer] == ["catalog"]


async def run_flows_more(api: Api) -> None:
    step = script_step("later", "{:x 1}", outputs=["x"])
    assert (await api.client.post("/engine/step", json=step)).status_code == 201


async def test_catalog_events_page_by_position(served: Api) -> None:
    await run_flows(served, 1)
    await run_flows_more(served)
    catalog = await pages(served, "/engine/catalog/events", 2)
    assert [e["data"]["step_id"] for e in catalog] == ["hello", "shout", "later"]
    assert all(e["aggregate"] == "catalog" for e in catalog)
    feed = await pages(served, "/engine/events", 1000)
    assert catalog == [e for e in feed if e["aggregate"] == "catalog"]
    second = catalog[0]["position"]
    assert await pages(served, "/engine/catalog/events", 10, after=second) == catalog[1:]


async def test_a_flows_events_carry_the_positions_of_the_feed(served: Api) -> None:
    await run_flows(served, 1)
    stored = (await served.client.get("/engine/flow/p0/events")).json()["events"]
    feed = await pages(served, "/engine/events", 1000)
    by_position = {e["position"]: e for e in feed}
    assert [by_position[e["position"]] for e in stored] == stored


@pytest.mark.parametrize("path", ["/engine/events", "/engine/catalog/events"])
@pytest.mark.parametrize("after", ["garbage", "-1", "1-x", "12 ", "1-2-3-4-5-x"])
async def test_a_position_the_store_did_not_make_is_refused(
    api: Api, path: str, after: str
) -> None:
    body = problem(await api.client.get(path, params={"after": after}), 400)
    assert "after" in body["detail"]


@pytest.mark.parametrize("path", ["/engine/events", "/engine/catalog/events"])
@pytest.mark.parametrize("limit", ["0", "1001", "ten", "-5", ""])
async def test_a_limit_out_of_range_is_refused(api: Api, path: str, limit: str) -> None:
    body = problem(await api.client.get(path, params={"limit": limit}), 400)
    assert "limit" in body["detail"]


async def test_an_empty_feed_is_an_empty_page(api: Api) -> None:
    page = (await api.client.get("/engine/events")).json()
    assert page == {"events": [], "count": 0, "next_after": ""}
