"""Flow labels through REST: given at start, kept in state and listings, filtered on."""

from __future__ import annotations

from typing import Any

import pytest
from server_support import HELLO, problem

pytestmark = pytest.mark.asyncio


@pytest.fixture(autouse=True)
async def hello(api: Any) -> None:
    assert (await api.client.post("/engine/step", json=HELLO)).status_code == 201


async def start(api: Any, labels: Any, flow_id: str | None = None) -> Any:
    body = {"goals": ["hello"], "init": {"name": "Ann"}, "labels": labels}
    if flow_id:
        body["id"] = flow_id
    return await api.client.post("/engine/flow", json=body)


async def test_labels_are_kept_in_state_and_listings_and_filter_them(api: Any) -> None:
    billing = (await start(api, {"team": "billing", "env": "prod"})).json()["flow_id"]
    sales = (await start(api, {"team": "sales"})).json()["flow_id"]
    state = await api.wait_flow(billing)
    assert state["labels"] == {"team": "billing", "env": "prod"}

    listed = (await api.client.get("/engine/flow", params={"label": "team=billing"})).json()
    assert [flow["id"] for flow in listed["flows"]] == [billing]
    assert listed["flows"][0]["labels"] == {"team": "billing", "env": "prod"}
    both = [("label", "team=billing"), ("label", "env=prod")]
    assert (await api.client.get("/engine/flow", params=both)).json()["count"] == 1
    everyone = (await api.client.get("/engine/flow")).json()["flows"]
    assert {flow["id"] for flow in everyone} == {billing, sales}


@pytest.mark.parametrize(
    ("labels", "field"),
    [({"team": 1}, "labels.team"), (["team"], "labels"), ({"team": None}, "labels.team")],
)
async def test_labels_that_are_not_strings_are_refused_and_start_nothing(
    api: Any, labels: Any, field: str
) -> None:
    before = await api.snapshot()
    body = problem(await start(api, labels), 400)
    assert [item["field"] for item in body["problems"]] == [field]
    assert await api.snapshot() == before


async def test_a_label_query_that_is_not_name_equals_value_is_refused(api: Any) -> None:
    body = problem(await api.client.get("/engine/flow", params={"label": "team"}), 400)
    assert body["problems"] == [{"field": "label", "reason": 'must be name=value, got "team"'}]


async def test_the_same_id_with_other_labels_is_a_conflict(api: Any) -> None:
    first = await start(api, {"team": "a"}, "f1")
    assert first.status_code == 201, first.text
    assert (await start(api, {"team": "a"}, "f1")).status_code == 200
    problem(await start(api, {"team": "b"}, "f1"), 409)
