"""Sub-flows through REST: a flow step whose child calls a real HTTP step service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from server_support import Api

from argyll.subflow import child_flow_id
from argyll.testing import Call, StepService, wait_until

pytestmark = pytest.mark.asyncio


def answer(call: Call) -> tuple[int, Any]:
    if call.path == "/price" and call.body["qty"] < 0:
        return 400, {"detail": "negative quantity"}
    if call.path == "/price":
        return 200, {"net": call.body["qty"] * 5}
    return 202, {}


@pytest.fixture
async def service() -> AsyncIterator[StepService]:
    async with StepService(answer) as running:
        yield running


def http_step(service: StepService, step_id: str, kind: str = "sync") -> dict[str, Any]:
    return {
        "id": step_id,
        "type": kind,
        "attributes": {"qty": {"role": "required"}, "net": {"role": "output"}},
        "http": {"endpoint": f"{service.url}/{step_id}", "timeout": 5000},
    }


def quote(goal: str) -> dict[str, Any]:
    return {
        "id": "quote",
        "type": "flow",
        "flow": {"goals": [goal]},
        "attributes": {"qty": {"role": "required"}, "net": {"role": "output"}},
    }


async def register(api: Api, *steps: dict[str, Any]) -> None:
    for step in steps:
        reply = await api.client.post("/engine/step", json=step)
        assert reply.status_code == 201, reply.text


async def start(api: Api, flow_id: str, qty: int) -> None:
    body = {"id": flow_id, "goals": ["quote"], "init": {"qty": qty}}
    reply = await api.client.post("/engine/flow", json=body)
    assert reply.status_code == 201, reply.text


def child_of(state: dict[str, Any]) -> str:
    (token,) = state["executions"]["quote"]["work_items"]
    return child_flow_id(state["id"], "quote", token)


async def test_the_child_calls_the_service_and_the_parent_gets_its_outputs(
    api: Api, service: StepService
) -> None:
    await register(api, http_step(service, "price"), quote("price"))
    await start(api, "order-1", 3)
    parent = await api.wait_flow("order-1")
    assert parent["attributes"]["net"] == {"value": 15, "step": "quote"}
    assert list(parent["plan"]["children"]["quote"]["steps"]) == ["price"]

    child = child_of(parent)
    (call,) = service.calls
    assert call.body == {"qty": 3}
    assert call.headers["Argyll-Flow-Id"] == child

    state = (await api.client.get(f"/engine/flow/{child}")).json()
    assert state["status"] == "completed"
    token = next(iter(parent["executions"]["quote"]["work_items"]))
    assert state["parent"] == {"flow_id": "order-1", "step_id": "quote", "token": token}
    listed = (await api.client.get("/engine/flow")).json()["flows"]
    assert {flow["id"]: flow.get("parent") for flow in listed} == {
        "order-1": None,
        child: "order-1",
    }
    explained = await api.client.get(f"/engine/flow/{child}/explain")
    assert explained.status_code == 200
    assert explained.json()["steps"]["price"]["reason"] == "ran"


async def test_a_child_whose_service_refuses_fails_the_parent(
    api: Api, service: StepService
) -> None:
    await register(api, http_step(service, "price"), quote("price"))
    await start(api, "order-2", -1)
    parent = await api.wait_flow("order-2", "failed")
    child = (await api.client.get(f"/engine/flow/{child_of(parent)}")).json()
    assert child["status"] == "failed"
    assert parent["executions"]["quote"]["error"] == child["error"]
    assert "negative quantity" in child["error"]


async def test_canceling_the_parent_over_rest_cancels_the_child(
    api: Api, service: StepService
) -> None:
    await register(api, http_step(service, "reserve", "async"), quote("reserve"))
    await start(api, "order-3", 2)
    await wait_until(lambda: service.calls, "the child's async step called")
    reply = await api.client.post("/engine/flow/order-3/cancel", json={"reason": "customer left"})
    assert reply.status_code == 200, reply.text
    parent = (await api.client.get("/engine/flow/order-3")).json()
    child = child_of(parent)

    async def canceled() -> bool:
        return await api.flow_status(child) == "canceled"

    await wait_until(canceled, "the child canceled")
    events = (await api.client.get(f"/engine/flow/{child}/events")).json()["events"]
    (event,) = [e for e in events if e["type"] == "flow_canceled"]
    assert event["data"]["reason"] == "parent flow 'order-3' canceled"
