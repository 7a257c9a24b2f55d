"""The operating endpoints over real loopback HTTP: their 200 shapes, and every refusal
(404, 409, 400) answered as problem+json that leaves the flow's events as they were."""

from __future__ import annotations

from typing import Any

import pytest
from server_support import HELLO, Api, problem

from argyll.testing import script_step, wait_until

BOOM = script_step(
    "boom", '(raise "no such service for " name)', requires=["name"], outputs=["greeting"]
)
"""Provides ``greeting`` (as ``hello`` does) but always fails."""
AFTER = script_step("after", '{:loud (str greeting "!")}', requires=["greeting"], outputs=["loud"])

ACTIONS = ("pause", "resume", "cancel", "retry")
STEP_ACTIONS = ("complete", "skip")


async def register(api: Api, *definitions: dict[str, Any]) -> None:
    for definition in definitions:
        response = await api.client.post("/engine/step", json=definition)
        assert response.status_code in (200, 201), response.text


async def start(api: Api, flow_id: str, goal: str, init: dict[str, Any]) -> None:
    request = {"id": flow_id, "goals": [goal], "init": init}
    response = await api.client.post("/engine/flow", json=request)
    assert response.status_code == 201, response.text


async def waiting_flow(api: Api, flow_id: str = "w") -> str:
    """A flow whose async step ``wait`` never hears back (its service, the engine's own
    ``/health``, accepts every call): it stays active until someone acts on it."""
    wait = {
        "id": "wait",
        "type": "async",
        "attributes": {"name": {"role": "required"}, "answer": {"role": "output"}},
        "http": {"endpoint": f"{api.url}/health", "method": "GET"},
    }
    await register(api, wait)
    await start(api, flow_id, "wait", {"name": "Ann"})
    await wait_until(lambda: _work_started(api, flow_id), "the work of wait to start")
    return flow_id


async def _work_started(api: Api, flow_id: str) -> bool:
    return any(event["type"] == "work_started" for event in await events(api, flow_id))


async def failed_flow(api: Api, flow_id: str = "f") -> str:
    """``boom`` fails, so ``after`` (the goal) cannot run and the flow fails."""
    await register(api, BOOM, AFTER)
    await start(api, flow_id, "after", {"name": "Ann"})
    await api.wait_flow(flow_id, "failed")
    return flow_id


async def events(api: Api, flow_id: str) -> list[dict[str, Any]]:
    response = await api.client.get(f"/engine/flow/{flow_id}/events")
    assert response.status_code == 200, response.text
    return response.json()["events"]


async def post(api: Api, path: str, body: Any = None, content: bytes | None = None) -> Any:
    if content is not None:
        return await api.client.post(path, content=content)
    return await api.client.post(path, json={} if body is None else body)


async def refused(
    api: Api, flow_id: str, path: str, status: int, body: Any = None, content: bytes | None = None
) -> dict[str, Any]:
    """POST that must be refused with ``status`` and change none of the flow's events."""
    before = await events(api, flow_id)
    reply = problem(await post(api, path, body, content), status)
    assert await events(api, flow_id) == before, path
    return reply


def operated(flow_id: str, done: str, status: str) -> dict[str, Any]:
    return {"message": f'flow "{flow_id}" {done}', "flow_id": flow_id, "status": status}


# ------------------------------------------------------------- 200 shapes


async def test_pause_resume_and_cancel_answer_the_new_status(api: Api) -> None:
    flow_id = await waiting_flow(api)
    paused = await post(api, f"/engine/flow/{flow_id}/pause", {"reason": "lunch"})
    assert paused.status_code == 200
    assert paused.headers["content-type"] == "application/json"
    assert paused.json() == operated(flow_id, "paused", "paused")
    resumed = await post(api, f"/engine/flow/{flow_id}/resume", content=b"")
    assert resumed.json() == operated(flow_id, "resumed", "active")
    canceled = await post(api, f"/engine/flow/{flow_id}/cancel", {"reason": "wrong customer"})
    assert canceled.json() == operated(flow_id, "canceled", "canceled")
    assert await api.flow_status(flow_id) == "canceled"

    typed = [e for e in await events(api, flow_id) if e["type"] in ("flow_paused", "flow_resumed")]
    assert [e["data"] for e in typed] == [
        {"flow_id": flow_id, "actor": "anonymous", "reason": "lunch"},
        {"flow_id": flow_id, "actor": "anonymous"},
    ]


async def test_retry_answers_active_and_the_flow_runs_again(api: Api) -> None:
    flow_id = await failed_flow(api)
    body = {"complete": {"boom": {"greeting": "Hi"}}, "reason": "the script is broken"}
    retried = await post(api, f"/engine/flow/{flow_id}/retry", body)
    assert retried.status_code == 200
    assert retried.json() == operated(flow_id, "retried", "active")
    state = await api.wait_flow(flow_id, "completed")
    assert state["attributes"]["loud"] == {"value": "Hi!", "step": "after"}


async def test_complete_and_skip_answer_the_flows_status(api: Api) -> None:
    flow_id = await waiting_flow(api, "c")
    completed = await post(
        api, f"/engine/flow/{flow_id}/step/wait/complete", {"outputs": {"answer": 42}}
    )
    assert completed.status_code == 200
    assert completed.json() == operated(flow_id, 'step "wait" completed by hand', "completed")

    other = await waiting_flow(api, "s")
    skipped = await post(api, f"/engine/flow/{other}/step/wait/skip", {"reason": "not needed"})
    assert skipped.json() == operated(other, 'step "wait" skipped by hand', "completed")


async def test_explain_answers_every_planned_step(api: Api) -> None:
    flow_id = await failed_flow(api)
    response = await api.client.get(f"/engine/flow/{flow_id}/explain")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "flow_id": flow_id,
        "status": "failed",
        "steps": {
            "after": {
                "status": "failed",
                "reason": "inputs_unreachable",
                "detail": {"inputs": {"greeting": {"providers": {"boom": "failed"}}}},
            },
            "boom": {
                "status": "failed",
                "reason": "failed",
                "detail": {"error": "script error: no such service for Ann", "attempts": 1},
            },
        },
        "not_in_plan": {},
    }


async def test_explain_names_the_providers_left_out_of_the_plan(api: Api) -> None:
    await register(api, HELLO, AFTER)
    await start(api, "given", "after", {"greeting": "Hey"})
    await api.wait_flow("given", "completed")
    response = await api.client.get("/engine/flow/given/explain")
    assert response.json()["not_in_plan"] == {
        "hello": {"reason": "satisfied_by_init", "detail": {"attributes": ["greeting"]}}
    }


async def test_start_accepts_a_timeout_and_the_flow_fails_when_it_passes(api: Api) -> None:
    await waiting_flow(api, "first")  # registers the step
    request = {"id": "t", "goals": ["wait"], "init": {"name": "Ann"}, "timeout": 100}
    assert (await api.client.post("/engine/flow", json=request)).status_code == 201
    state = await api.wait_flow("t", "failed")
    assert "timed out after 100 ms" in state["error"]


# -------------------------------------------------------------------- 404


@pytest.mark.parametrize("action", ACTIONS)
async def test_an_unknown_flow_is_a_404(api: Api, action: str) -> None:
    body = problem(await post(api, f"/engine/flow/nope/{action}"), 404)
    assert body["kind"] == "flow" and body["ident"] == "nope"


async def test_explain_of_an_unknown_flow_is_a_404(api: Api) -> None:
    body = problem(await api.client.get("/engine/flow/nope/explain"), 404)
    assert body["type"] == "urn:argyll:problem:not-found"


@pytest.mark.parametrize("action", STEP_ACTIONS)
async def test_an_unknown_flow_or_step_in_the_step_paths_is_a_404(api: Api, action: str) -> None:
    flow_id = await waiting_flow(api)
    body = {"outputs": {}} if action == "complete" else {}
    problem(await post(api, f"/engine/flow/nope/step/wait/{action}", body), 404)
    missing = await refused(api, flow_id, f"/engine/flow/{flow_id}/step/nope/{action}", 404, body)
    assert missing["kind"] == "step"


# -------------------------------------------------------------------- 409


async def test_actions_in_the_wrong_status_are_409(api: Api) -> None:
    flow_id = await waiting_flow(api)
    for action in ("resume", "retry"):  # an active flow is neither paused nor failed
        body = await refused(api, flow_id, f"/engine/flow/{flow_id}/{action}", 409)
        assert body["type"] == "urn:argyll:problem:conflict"
    assert (await post(api, f"/engine/flow/{flow_id}/pause")).status_code == 200
    await refused(api, flow_id, f"/engine/flow/{flow_id}/pause", 409)
    assert (await post(api, f"/engine/flow/{flow_id}/cancel")).status_code == 200
    for action in ("pause", "resume", "cancel"):
        await refused(api, flow_id, f"/engine/flow/{flow_id}/{action}", 409)


async def test_retrying_twice_in_a_row_is_a_409_until_the_flow_fails_again(api: Api) -> None:
    flow_id = await waiting_flow(api)
    await fail_the_wait(api, flow_id)
    assert (await post(api, f"/engine/flow/{flow_id}/retry")).status_code == 200
    await wait_until(lambda: _attempts(api, flow_id, 2), "the retried work to start")
    await refused(api, flow_id, f"/engine/flow/{flow_id}/retry", 409)
    await fail_the_wait(api, flow_id)
    assert (await post(api, f"/engine/flow/{flow_id}/retry")).status_code == 200


async def fail_the_wait(api: Api, flow_id: str) -> None:
    """Post a failure to the webhook of ``wait``'s active work item; the flow fails."""
    state = (await api.client.get(f"/engine/flow/{flow_id}")).json()
    items = state["executions"]["wait"]["work_items"]
    token = next(token for token, item in items.items() if item["status"] == "active")
    failure = {"title": "Rejected", "status": 422, "detail": "no"}
    headers = {"content-type": "application/problem+json"}
    webhook = f"/webhook/{flow_id}/wait/{token}"
    assert (await api.client.post(webhook, json=failure, headers=headers)).status_code == 200
    await api.wait_flow(flow_id, "failed")


async def _attempts(api: Api, flow_id: str, count: int) -> bool:
    started = [e for e in await events(api, flow_id) if e["type"] == "work_started"]
    return len(started) >= count


async def test_complete_or_skip_of_an_ended_step_or_flow_is_a_409(api: Api) -> None:
    flow_id = await failed_flow(api)  # boom failed; the flow is terminal
    for action, body in (("complete", {"outputs": {"greeting": "x"}}), ("skip", {})):
        for step_id in ("boom", "after"):
            path = f"/engine/flow/{flow_id}/step/{step_id}/{action}"
            await refused(api, flow_id, path, 409, body)

    waiting = await waiting_flow(api, "w2")
    done = f"/engine/flow/{waiting}/step/wait/complete"
    assert (await post(api, done, {"outputs": {"answer": 1}})).status_code == 200
    await refused(api, waiting, done, 409, {"outputs": {"answer": 2}})
    await refused(api, waiting, f"/engine/flow/{waiting}/step/wait/skip", 409)


# -------------------------------------------------------------------- 400


BAD_BODIES: list[tuple[str, bytes]] = [
    ("not JSON", b"{nope"),
    ("not an object", b"[1]"),
    ("a string", b'"reason"'),
    ("NaN", b'{"reason": NaN}'),
    ("an unknown field", b'{"why": "x"}'),
    ("a reason that is not a string", b'{"reason": 7}'),
]


@pytest.mark.parametrize(("what", "content"), BAD_BODIES, ids=[what for what, _ in BAD_BODIES])
async def test_a_malformed_body_is_a_400_for_every_action(
    api: Api, what: str, content: bytes
) -> None:
    flow_id = await waiting_flow(api)
    for action in ACTIONS:
        await refused(api, flow_id, f"/engine/flow/{flow_id}/{action}", 400, content=content)
    for action in STEP_ACTIONS:
        path = f"/engine/flow/{flow_id}/step/wait/{action}"
        await refused(api, flow_id, path, 400, content=content)


async def test_an_unknown_field_is_named(api: Api) -> None:
    flow_id = await waiting_flow(api)
    body = await refused(api, flow_id, f"/engine/flow/{flow_id}/pause", 400, {"why": "x"})
    assert body["problems"][0]["field"] == "why"
    assert "unknown field" in body["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"steps": ["nope"]}, "steps[0]"),
        ({"skip": ["nope"]}, "skip[0]"),
        ({"complete": {"nope": {}}}, "complete.nope"),
        ({"steps": "boom"}, "steps"),
        ({"complete": {"boom": {"loud": "x"}}}, "complete.boom.loud"),
        ({"complete": {"boom": []}}, "complete.boom"),
    ],
)
async def test_a_bad_retry_body_is_a_400_naming_the_field(
    api: Api, body: dict[str, Any], field: str
) -> None:
    flow_id = await failed_flow(api)
    reply = await refused(api, flow_id, f"/engine/flow/{flow_id}/retry", 400, body)
    assert field in [problem["field"] for problem in reply["problems"]], reply
    assert field in reply["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "outputs"),
        ({"outputs": []}, "outputs"),
        ({"outputs": {"nope": 1}}, "outputs.nope"),
        ({"outputs": {"answer": 1}, "extra": 1}, "extra"),
    ],
)
async def test_complete_with_outputs_that_do_not_match_is_a_400(
    api: Api, body: dict[str, Any], field: str
) -> None:
    flow_id = await waiting_flow(api)
    reply = await refused(api, flow_id, f"/engine/flow/{flow_id}/step/wait/complete", 400, body)
    assert field in [problem["field"] for problem in reply["problems"]], reply
