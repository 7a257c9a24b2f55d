"""jpath through REST: a predicate compiled at registration that skips or runs an HTTP step."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from server_support import Api, problem

from argyll.testing import StepService

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def service() -> AsyncIterator[StepService]:
    async with StepService(lambda call: (200, {"sent": True})) as running:
        yield running


def notify(service: StepService, predicate: str) -> dict[str, Any]:
    """A sync HTTP step guarded by a jpath predicate on its inputs."""
    return {
        "id": "notify",
        "type": "sync",
        "http": {"endpoint": f"{service.url}/notify", "timeout": 5000},
        "attributes": {
            "order": {"role": "required", "type": "object"},
            "customer": {"role": "optional", "type": "object", "default": "{}"},
            "sent": {"role": "output", "type": "boolean"},
        },
        "predicate": {"language": "jpath", "script": predicate},
    }


async def run(
    api: Api, flow_id: str, init: dict[str, Any], status: str = "completed"
) -> dict[str, Any]:
    body = {"id": flow_id, "goals": ["notify"], "init": init}
    started = await api.client.post("/engine/flow", json=body)
    assert started.status_code == 201, started.text
    return await api.wait_flow(flow_id, status)


async def test_a_jpath_predicate_skips_or_runs_the_step(api: Api, service: StepService) -> None:
    step = notify(service, "$.order.total > 100 && $.customer.active == true")
    assert (await api.client.post("/engine/step", json=step)).status_code == 201

    small = await run(api, "small", {"order": {"total": 50}, "customer": {"active": True}})
    assert small["executions"]["notify"]["status"] == "skipped"
    inactive = await run(api, "inactive", {"order": {"total": 500}})
    assert inactive["executions"]["notify"]["status"] == "skipped"
    assert service.calls == []

    large = await run(api, "large", {"order": {"total": 150}, "customer": {"active": True}})
    assert large["executions"]["notify"]["status"] == "completed"
    assert large["attributes"]["sent"]["value"] is True
    assert [call.body["order"] for call in service.calls] == [{"total": 150}]


async def test_a_node_holding_null_lets_the_step_run(api: Api, service: StepService) -> None:
    step = notify(service, "$.order.coupon")
    assert (await api.client.post("/engine/step", json=step)).status_code == 201

    without = await run(api, "without", {"order": {"total": 1}})
    assert without["executions"]["notify"]["status"] == "skipped"
    null = await run(api, "null", {"order": {"total": 1, "coupon": None}})
    assert null["executions"]["notify"]["status"] == "completed"
    assert len(service.calls) == 1


async def test_a_bad_query_is_refused_naming_its_place(api: Api, service: StepService) -> None:
    response = await api.client.post("/engine/step", json=notify(service, "$.order[?@.total >]"))
    body = problem(response, 400)
    [item] = body["problems"]
    assert item["field"] == "predicate.script"
    assert "line 1, column 19" in item["reason"]
    assert (await api.client.get("/engine/step/notify")).status_code == 404


async def test_a_bad_match_query_is_refused_at_registration(api: Api, service: StepService) -> None:
    step = notify(service, "$.order")
    step["attributes"]["order"]["required"] = {"match": {"language": "jpath", "script": "$..["}}
    body = problem(await api.client.post("/engine/step", json=step), 400)
    fields = [item["field"] for item in body["problems"]]
    assert fields == ["attributes.order.required.match.script"]


async def test_a_script_step_in_jpath_is_refused(api: Api) -> None:
    step = {
        "id": "extract",
        "type": "script",
        "attributes": {"order": {"role": "required"}, "total": {"role": "output"}},
        "script": {"language": "jpath", "script": "$.order.total"},
    }
    body = problem(await api.client.post("/engine/step", json=step), 400)
    assert [item["field"] for item in body["problems"]] == ["script.language"]


async def test_a_backtracking_pattern_fails_the_step_at_the_time_limit(
    api: Api, service: StepService
) -> None:
    """Over its slice on the loop, then over the wall-clock limit on a thread: a clear error."""
    step = notify(service, "match($.order.code, '(a|aa)+b')")
    assert (await api.client.post("/engine/step", json=step)).status_code == 201
    state = await run(api, "slow", {"order": {"code": "a" * 80}}, "failed")
    assert "limit" in state["executions"]["notify"]["error"]
    assert service.calls == []
