"""Flow queries over REST: ``POST /engine/flow/query`` and ``GET /engine/flow`` filter,
sort and page the flow index; pages are stable while flows start; bad queries are 400
naming the field; ``GET /engine`` counts flows and shows one page of the active ones."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from server_support import HELLO, SHOUT, Api, async_step, problem, running_api

from argyll.testing import StepService, wait_until

BOOM = {**HELLO, "id": "boom", "script": {"language": "ale", "script": "(/ 1 0)"}}


@pytest.fixture(params=["memory", "sqlite"])
async def api(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Api]:
    store = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 'q.db'}"
    async with running_api(store) as served:
        for step in (HELLO, SHOUT, BOOM):
            assert (await served.client.post("/engine/step", json=step)).status_code == 201
        yield served


async def start(api: Api, flow_id: str, goals: list[str], **labels: str) -> None:
    body = {"id": flow_id, "goals": goals, "init": {"name": "Ann"}, "labels": labels}
    response = await api.client.post("/engine/flow", json=body)
    assert response.status_code == 201, response.text


async def query(api: Api, **body: Any) -> dict[str, Any]:
    response = await api.client.post("/engine/flow/query", json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def ids(api: Api, **body: Any) -> list[str]:
    return [flow["id"] for flow in (await query(api, **body))["flows"]]


async def mixed(api: Api) -> dict[str, str]:
    """Six ended flows, started in order: their ids and creation times."""
    await start(api, "a1", ["hello"], team="billing", tier="1")
    await start(api, "a2", ["shout"], team="billing")
    await start(api, "b1", ["boom"], team="sales")
    await start(api, "b2", ["hello", "shout"], team="billing", tier="1")
    await start(api, "c1", ["hello"])
    await start(api, "c2", ["boom"], tier="1")
    for flow_id, status in {"a1": "completed", "a2": "completed", "b1": "failed"}.items():
        await api.wait_flow(flow_id, status)
    for flow_id, status in {"b2": "completed", "c1": "completed", "c2": "failed"}.items():
        await api.wait_flow(flow_id, status)
    listed = (await query(api))["flows"]
    return {flow["id"]: flow["created_at"] for flow in listed}


async def test_each_filter_and_both_orders(api: Api) -> None:
    created = await mixed(api)

    assert await ids(api) == ["c2", "c1", "b2", "b1", "a2", "a1"]
    assert await ids(api, sort="created_at") == ["a1", "a2", "b1", "b2", "c1", "c2"]
    assert await ids(api, statuses=["failed"]) == ["c2", "b1"]
    assert await ids(api, statuses=["failed", "completed"], limit=3) == ["c2", "c1", "b2"]
    assert await ids(api, statuses=["paused"]) == []
    assert await ids(api, labels={"team": "billing"}) == ["b2", "a2", "a1"]
    assert await ids(api, labels={"team": "billing", "tier": "1"}) == ["b2", "a1"]
    assert await ids(api, goals=["shout"]) == ["b2", "a2"]
    assert await ids(api, goals=["hello", "shout"]) == ["b2"]
    assert await ids(api, id_prefix="b") == ["b2", "b1"]
    assert await ids(api, created_after=created["b1"], created_before=created["c2"]) == [
        "c1",
        "b2",
    ]
    assert await ids(api, labels={"tier": "1"}, statuses=["failed"], sort="created_at") == ["c2"]
    flow = (await query(api, goals=["hello", "shout"]))["flows"][0]
    assert flow["goals"] == ["hello", "shout"]
    assert flow["labels"] == {"team": "billing", "tier": "1"}


async def test_the_listing_takes_the_same_filters_as_parameters(api: Api) -> None:
    created = await mixed(api)

    async def listed(params: Any) -> list[str]:
        response = await api.client.get("/engine/flow", params=params)
        assert response.status_code == 200, response.text
        return [flow["id"] for flow in response.json()["flows"]]

    assert await listed({"status": "failed,completed", "limit": 2}) == ["c2", "c1"]
    assert await listed([("status", "failed"), ("status", "completed")]) == await ids(api)
    assert await listed([("goal", "hello"), ("label", "tier=1")]) == ["b2", "a1"]
    assert await listed({"id_prefix": "a", "sort": "created_at"}) == ["a1", "a2"]
    assert await listed({"created_before": created["a2"]}) == ["a1"]
    page = (await api.client.get("/engine/flow", params={"limit": 4})).json()
    rest = {"limit": 4, "cursor": page["next_cursor"]}
    assert await listed(rest) == ["a2", "a1"]
    assert (await api.client.get("/engine/flow", params=rest)).json()["next_cursor"] is None


async def test_paging_is_stable_while_flows_start(api: Api) -> None:
    for n in range(25):
        await start(api, f"old{n:02}", ["hello"])
    stop = asyncio.Event()
    numbers = itertools.count()

    async def keep_starting() -> None:
        while not stop.is_set():
            await start(api, f"new{next(numbers):03}", ["hello"])

    for sort in ("-created_at", "created_at"):
        starter = asyncio.create_task(keep_starting())
        seen: list[str] = []
        cursor = None
        try:
            async with asyncio.timeout(30):
                while True:
                    page = await query(api, limit=4, sort=sort, cursor=cursor)
                    seen += [flow["id"] for flow in page["flows"]]
                    cursor = page["next_cursor"]
                    if cursor is None or (sort == "created_at" and len(seen) > 60):
                        break
        finally:
            stop.set()
            await starter
            stop.clear()
        old = [flow_id for flow_id in seen if flow_id.startswith("old")]
        expected = [f"old{n:02}" for n in range(25)]
        assert old == (expected[::-1] if sort == "-created_at" else expected)
        assert len(seen) == len(set(seen))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"statuses": ["done"]}, "statuses.0"),
        ({"statuses": "active"}, "statuses"),
        ({"labels": {"team": 1}}, "labels.team"),
        ({"goals": "hello"}, "goals"),
        ({"goals": [""]}, "goals.0"),
        ({"id_prefix": 3}, "id_prefix"),
        ({"created_after": "yesterday"}, "created_after"),
        ({"created_before": 17}, "created_before"),
        ({"sort": "id"}, "sort"),
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"limit": "5"}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "WyJ4Il0"}, "cursor"),
        ({"status": "active"}, "status"),
    ],
)
async def test_a_bad_query_is_400_naming_the_field(api: Api, body: Any, field: str) -> None:
    reply = problem(await api.client.post("/engine/flow/query", json=body), 400)
    assert [item["field"] for item in reply["problems"]] == [field]


async def test_a_query_body_must_be_an_object(api: Api) -> None:
    problem(await api.client.post("/engine/flow/query", json=["active"]), 400)
    problem(await api.client.post("/engine/flow/query", content=b"{"), 400)


@pytest.mark.parametrize(
    "params",
    [{"cursor": "bogus"}, {"sort": "oldest"}, {"goal": "bad goal"}, {"created_after": "x"}],
)
async def test_a_bad_listing_parameter_is_400_naming_it(api: Api, params: Any) -> None:
    reply = problem(await api.client.get("/engine/flow", params=params), 400)
    assert [item["field"] for item in reply["problems"]] == list(params)


async def test_a_flow_named_query_is_still_read_by_its_path(api: Api) -> None:
    problem(await api.client.get("/engine/flow/query"), 404)
    await start(api, "query", ["hello"])

    state = await api.wait_flow("query")

    assert state["id"] == "query"


async def test_the_engine_counts_flows_and_shows_a_page_of_active_ones(api: Api) -> None:
    async with StepService(lambda call: (200, {})) as service:
        approve = async_step("approve", service.url, ["greeting"], ["ok"])
        assert (await api.client.post("/engine/step", json=approve)).status_code == 201
        for n in range(53):
            await start(api, f"w{n:02}", ["approve"])
        await start(api, "done", ["hello"])
        await api.wait_flow("done")
        paused = await api.client.post("/engine/flow/w00/pause", json={})
        assert paused.status_code == 200, paused.text
        await wait_until(lambda: len(service.calls) >= 52, "the approve calls")

        body = (await api.client.get("/engine")).json()

    assert body["flow_counts"] == {
        "active": 52,
        "paused": 1,
        "completed": 1,
        "failed": 0,
        "canceled": 0,
    }
    assert list(body["active_flows"]) == [f"w{n:02}" for n in range(52, 2, -1)]
    rest = await query(api, statuses=["active"], cursor=body["active_flows_next_cursor"])
    assert [flow["id"] for flow in rest["flows"]] == ["w02", "w01"]


async def test_the_children_of_a_flow_are_queried_by_parent(api: Api) -> None:
    greet = {
        "id": "greet",
        "type": "flow",
        "flow": {"goals": ["hello"]},
        "attributes": {"name": {"role": "required"}, "greeting": {"role": "output"}},
    }
    assert (await api.client.post("/engine/step", json=greet)).status_code == 201
    for flow_id in ("p1", "p2"):
        await start(api, flow_id, ["greet"])
        await api.wait_flow(flow_id)

    children = (await query(api, parent="p1"))["flows"]

    assert [flow["parent"] for flow in children] == ["p1"]
    assert children[0]["goals"] == ["hello"]
    listed = await api.client.get("/engine/flow", params={"parent": "p2", "goal": "hello"})
    assert [flow["parent"] for flow in listed.json()["flows"]] == ["p2"]
    assert await ids(api, parent="p1", goals=["greet"]) == []
    problem(await api.client.post("/engine/flow/query", json={"parent": "a b"}), 400)
