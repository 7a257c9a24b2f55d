"""Memoization over REST, black box: a memoizable HTTP step, two flows, one call to the service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from server_support import Api, problem, running_api

from argyll.testing import StepService

pytestmark = pytest.mark.asyncio


def rate_step(url: str, **changes: Any) -> dict[str, Any]:
    return {
        "id": "convert",
        "name": "Convert currency",
        "type": "sync",
        "memoizable": True,
        "http": {"endpoint": f"{url}/rates", "timeout": 5000},
        "attributes": {
            "from_currency": {"role": "required", "type": "string"},
            "amount": {"role": "required", "type": "number"},
            "converted": {"role": "output", "type": "number"},
        },
        **changes,
    }


def converted(call: Any) -> tuple[int, Any]:
    return 200, {"converted": call.body["amount"] * 2}


@pytest.fixture
async def sqlite_api(tmp_path: Path) -> AsyncIterator[Api]:
    async with running_api(f"sqlite:///{tmp_path / 'memo.db'}") as served:
        yield served


async def start(api: Api, amount: float, flow_id: str) -> dict[str, Any]:
    body = {"id": flow_id, "goals": ["convert"], "init": {"from_currency": "USD", "amount": amount}}
    response = await api.client.post("/engine/flow", json=body)
    assert response.status_code == 201, response.text
    return await api.wait_flow(flow_id)


async def work_succeeded(api: Api, flow_id: str) -> list[dict[str, Any]]:
    response = await api.client.get(f"/engine/flow/{flow_id}/events")
    return [event for event in response.json()["events"] if event["type"] == "work_succeeded"]


async def test_the_second_flow_is_a_memo_hit_naming_the_first(sqlite_api: Api) -> None:
    api = sqlite_api
    async with StepService(converted) as service:
        registered = await api.client.post("/engine/step", json=rate_step(service.url))
        assert registered.status_code == 201, registered.text
        first = await start(api, 100, "first")
        second = await start(api, 100, "second")
        other = await start(api, 7, "other")

    assert [call.body["amount"] for call in service.calls] == [100, 7]
    assert first["attributes"]["converted"]["value"] == 200
    assert second["attributes"]["converted"]["value"] == 200
    assert other["attributes"]["converted"]["value"] == 14
    (produced,) = await work_succeeded(api, "first")
    (hit,) = await work_succeeded(api, "second")
    assert "memo" not in produced["data"]
    assert hit["data"]["memo"] == {"flow_id": "first", "seq": produced["seq"]}
    assert hit["data"]["outputs"] == produced["data"]["outputs"]
    (item,) = second["executions"]["convert"]["work_items"].values()
    assert item["memo"] == {"flow_id": "first", "seq": produced["seq"]}
    explained = (await api.client.get("/engine/flow/second/explain")).json()
    assert explained["steps"]["convert"]["detail"]["memo"] == [
        {"flow_id": "first", "seq": produced["seq"]}
    ]


async def test_a_put_of_the_step_invalidates_its_memos(api: Api) -> None:
    async with StepService(converted) as service:
        await api.client.post("/engine/step", json=rate_step(service.url))
        await start(api, 100, "before")
        updated = await api.client.put("/engine/step/convert", json=rate_step(service.url))
        assert updated.status_code == 200, updated.text  # the same definition: nothing changes
        await start(api, 100, "same")
        changed = rate_step(service.url, http={"endpoint": f"{service.url}/rates", "timeout": 9000})
        updated = await api.client.put("/engine/step/convert", json=changed)
        assert updated.status_code == 200, updated.text
        await start(api, 100, "after")

    assert len(service.calls) == 2
    (reused,) = await work_succeeded(api, "same")
    assert reused["data"]["memo"]["flow_id"] == "before"
    assert "memo" not in (await work_succeeded(api, "after"))[0]["data"]


async def test_memoizable_with_compensate_is_refused_naming_the_field(api: Api) -> None:
    definition = rate_step(
        "http://127.0.0.1:9",
        http={"endpoint": "http://127.0.0.1:9/rates", "compensate": "http://127.0.0.1:9/undo"},
    )

    body = problem(await api.client.post("/engine/step", json=definition), 400)

    assert "memoizable" in [item["field"] for item in body["problems"]]
    assert (await api.client.get("/engine/step/convert")).status_code == 404


async def test_memoizable_must_be_a_boolean(api: Api) -> None:
    definition = rate_step("http://127.0.0.1:9", memoizable="yes")

    body = problem(await api.client.post("/engine/step", json=definition), 400)

    assert [item["field"] for item in body["problems"]] == ["memoizable"]
