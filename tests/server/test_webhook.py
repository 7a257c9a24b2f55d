"""POST /webhook/{flow}/{step}/{token}: async steps complete (or fail) through the server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from server_support import HELLO, Api, async_step, problem

from argyll.testing import Call, StepService, wait_until


@dataclass
class Waiting:
    """A flow whose async step was called and now waits for its webhook."""

    flow_id: str
    call: Call
    webhook: str

    @property
    def path(self) -> str:
        return self.webhook.split("://", 1)[1].split("/", 1)[1]


@pytest.fixture
async def service() -> AsyncIterator[StepService]:
    async with StepService(lambda call: (202, {"accepted": True})) as running:
        yield running


async def start_waiting(api: Api, service: StepService, flow_id: str = "w1") -> Waiting:
    for definition in (
        HELLO,
        async_step("approve", f"{service.url}/approve", ["greeting"], ["ok"]),
    ):
        assert (await api.client.post("/engine/step", json=definition)).status_code in {200, 201}
    request = {"id": flow_id, "goals": ["approve"], "init": {"name": "Ann"}}
    assert (await api.client.post("/engine/flow", json=request)).status_code == 201

    def called() -> Call | None:
        return next((c for c in service.calls if c.headers.get("Argyll-Flow-Id") == flow_id), None)

    call = await wait_until(called, f"a call of approve for {flow_id}")
    return Waiting(flow_id, call, call.headers["Argyll-Webhook-Url"])


async def test_outputs_posted_to_the_webhook_complete_the_flow(api: Api, service: StepService):
    waiting = await start_waiting(api, service)
    token = waiting.call.headers["Argyll-Receipt-Token"]
    assert waiting.webhook == f"{api.url}/webhook/w1/approve/{token}"
    state = (await api.client.get("/engine/flow/w1")).json()
    assert token in state["executions"]["approve"]["work_items"]
    assert waiting.call.body == {"greeting": "Hello, Ann"}

    response = await api.client.post(waiting.path, json={"ok": True})
    assert response.status_code == 200
    assert set(response.json()) == {"message"}
    state = await api.wait_flow("w1")
    assert state["attributes"]["ok"] == {"value": True, "step": "approve"}

    events = (await api.client.get("/engine/flow/w1/events")).json()
    repeat = await api.client.post(waiting.path, json={"ok": False})
    assert repeat.status_code == 200
    failure = await api.client.post(
        waiting.path, json={"detail": "late"}, headers={"Content-Type": "application/problem+json"}
    )
    assert failure.status_code == 200
    assert (await api.client.get("/engine/flow/w1/events")).json() == events


async def test_a_problem_posted_to_the_webhook_fails_the_step(api: Api, service: StepService):
    waiting = await start_waiting(api, service)
    response = await api.client.post(
        waiting.path,
        content=b'{"title": "Refused", "status": 422, "detail": "no budget"}',
        headers={"Content-Type": "application/problem+json; charset=utf-8"},
    )
    assert response.status_code == 200
    state = await api.wait_flow("w1", "failed")
    execution = state["executions"]["approve"]
    assert execution["status"] == "failed"
    assert "no budget" in execution["error"]
    (item,) = execution["work_items"].values()
    assert item["status"] == "failed"


async def test_a_problem_with_only_a_title_fails_with_the_title(api: Api, service: StepService):
    waiting = await start_waiting(api, service)
    await api.client.post(
        waiting.path,
        json={"title": "Out of stock"},
        headers={"Content-Type": "application/problem+json"},
    )
    state = await api.wait_flow("w1", "failed")
    assert "Out of stock" in state["executions"]["approve"]["error"]


async def test_unknown_flow_step_or_token_is_404(api: Api, service: StepService):
    waiting = await start_waiting(api, service)
    token = waiting.call.headers["Argyll-Receipt-Token"]
    before = (await api.client.get("/engine/flow/w1/events")).json()
    for path in (
        f"/webhook/ghost/approve/{token}",
        f"/webhook/w1/ghost/{token}",
        "/webhook/w1/approve/not-a-token",
        f"/webhook/w1/hello/{token}",
    ):
        problem(await api.client.post(path, json={"ok": True}), 404)
    assert (await api.client.get("/engine/flow/w1/events")).json() == before
    assert await api.flow_status("w1") == "active"


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"{oops", "application/json"),
        (b"", "application/json"),
        (b"[1]", "application/json"),
        (b"null", "application/json"),
        (b"not json", "application/problem+json"),
        (b'"failed"', "application/problem+json"),
    ],
)
async def test_malformed_bodies_are_400(
    api: Api, service: StepService, content: bytes, content_type: str
) -> None:
    waiting = await start_waiting(api, service)
    before = (await api.client.get("/engine/flow/w1/events")).json()
    response = await api.client.post(
        waiting.path, content=content, headers={"Content-Type": content_type}
    )
    problem(response, 400)
    assert (await api.client.get("/engine/flow/w1/events")).json() == before
