"""Every REST endpoint over real loopback HTTP: success shapes, error codes, nothing changed."""

from __future__ import annotations

from typing import Any

import pytest
from server_support import HELLO, SHOUT, SMALL_BODY_LIMIT, Api, async_step, problem

from argyll.testing import StepService, wait_until


async def register(api: Api, *definitions: dict) -> None:
    for definition in definitions:
        response = await api.client.post("/engine/step", json=definition)
        assert response.status_code == 201, response.text


# ------------------------------------------------------------------ service


async def test_health_names_the_service_and_store(api: Api) -> None:
    response = await api.client.get("/health")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body == {
        "service": "argyll",
        "version": body["version"],
        "status": "ok",
        "store": "memory",
        "latency_ms": body["latency_ms"],
    }
    assert body["latency_ms"] >= 0
    assert isinstance(body["version"], str) and body["version"]


async def test_engine_state_shows_steps_health_and_active_flows(api: Api) -> None:
    empty = (await api.client.get("/engine")).json()
    no_flows = {status: 0 for status in ("active", "paused", "completed", "failed", "canceled")}
    assert empty == {
        "steps": {},
        "health": {},
        "flow_counts": no_flows,
        "active_flows": {},
        "active_flows_next_cursor": None,
        "last_updated": None,
    }
    async with StepService(lambda call: (200, {})) as service:
        await register(api, HELLO, async_step("approve", service.url, ["greeting"], ["ok"]))
        started = await api.client.post(
            "/engine/flow", json={"id": "waiting", "goals": ["approve"], "init": {"name": "Ann"}}
        )
        assert started.status_code == 201
        await wait_until(lambda: service.calls, "a call of approve")
        body = (await api.client.get("/engine")).json()
    assert set(body["steps"]) == {"hello", "approve"}
    assert body["steps"]["hello"]["script"]["language"] == "ale"
    assert body["health"]["hello"] == {"status": "healthy"}
    assert body["health"]["approve"]["status"] in {"unknown", "healthy", "unhealthy"}
    assert list(body["active_flows"]) == ["waiting"]
    assert body["active_flows"]["waiting"]["status"] == "active"
    assert body["last_updated"].endswith("Z")


async def test_index_page_links_the_api_without_external_assets(api: Api) -> None:
    response = await api.client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    for link in ('href="/engine"', 'href="/health"', 'href="/engine/openapi.json"'):
        assert link in response.text
    assert "http" not in response.text.replace("http-equiv", "")


async def test_openapi_document_is_served(api: Api) -> None:
    response = await api.client.get("/engine/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.1")
    assert "/webhook/{flow_id}/{step_id}/{token}" in document["paths"]


async def test_unknown_path_and_method_are_problems(api: Api) -> None:
    problem(await api.client.get("/engine/nothing-here"), 404)
    problem(await api.client.patch("/engine/step"), 405)


# -------------------------------------------------------------------- steps


async def test_register_get_list_update_and_delete_a_step(api: Api) -> None:
    created = await api.client.post("/engine/step", json=HELLO)
    assert created.status_code == 201
    assert set(created.json()) == {"message", "step"}
    assert created.json()["step"]["id"] == "hello"
    assert created.json()["step"]["name"] == "hello"

    again = await api.client.post("/engine/step", json=HELLO)
    assert again.status_code == 200
    assert again.json()["step"] == created.json()["step"]

    listed = (await api.client.get("/engine/step")).json()
    assert listed == {"steps": [created.json()["step"]], "count": 1}
    assert (await api.client.get("/engine/step/hello")).json() == created.json()["step"]

    updated = await api.client.put("/engine/step/hello", json={**HELLO, "name": "Greeter"})
    assert updated.status_code == 200
    assert set(updated.json()) == {"message", "step"}
    assert updated.json()["step"]["name"] == "Greeter"
    assert (await api.client.get("/engine/step/hello")).json()["name"] == "Greeter"

    deleted = await api.client.delete("/engine/step/hello")
    assert deleted.status_code == 200
    assert set(deleted.json()) == {"message"}
    problem(await api.client.get("/engine/step/hello"), 404)
    assert (await api.client.get("/engine/step")).json() == {"steps": [], "count": 0}


async def test_put_without_id_in_the_body_takes_it_from_the_path(api: Api) -> None:
    await register(api, HELLO)
    body = {key: value for key, value in HELLO.items() if key != "id"}
    response = await api.client.put("/engine/step/hello", json={**body, "version": "2"})
    assert response.status_code == 200
    assert response.json()["step"]["version"] == "2"


BAD_STEP_BODIES = [
    pytest.param(b"{not json", id="malformed-json"),
    pytest.param(b"", id="empty"),
    pytest.param(b"[1, 2]", id="array"),
    pytest.param(b'"hello"', id="string"),
    pytest.param(b"NaN", id="nan"),
]


@pytest.mark.parametrize("content", BAD_STEP_BODIES)
async def test_step_bodies_that_are_not_json_objects_are_refused(api: Api, content: bytes) -> None:
    before = await api.snapshot()
    body = problem(await api.client.post("/engine/step", content=content), 400)
    assert body["problems"][0]["field"] == "body"
    problem(await api.client.put("/engine/step/hello", content=content), 400)
    assert await api.snapshot() == before


async def test_invalid_step_lists_every_problem_and_changes_nothing(api: Api) -> None:
    before = await api.snapshot()
    bad = {"id": "bad id", "type": "script", "attributes": {"x": {"role": "sideways"}}}
    body = problem(await api.client.post("/engine/step", json=bad), 400)
    fields = {item["field"] for item in body["problems"]}
    assert {"id", "attributes.x.role", "script"} <= fields
    assert all(set(item) == {"field", "reason"} for item in body["problems"])
    assert await api.snapshot() == before


async def test_script_that_does_not_compile_is_refused(api: Api) -> None:
    broken = {**HELLO, "script": {"language": "ale", "script": "(str name"}}
    body = problem(await api.client.post("/engine/step", json=broken), 400)
    assert body["problems"][0]["field"] == "script.script"


async def test_different_definition_under_a_taken_id_is_a_conflict(api: Api) -> None:
    await register(api, HELLO)
    before = await api.snapshot()
    problem(await api.client.post("/engine/step", json={**HELLO, "name": "Other"}), 409)
    assert await api.snapshot() == before


async def test_update_errors(api: Api) -> None:
    problem(await api.client.put("/engine/step/hello", json=HELLO), 404)
    await register(api, HELLO)
    before = await api.snapshot()
    mismatch = problem(await api.client.put("/engine/step/other", json=HELLO), 400)
    assert mismatch["problems"][0]["field"] == "id"
    problem(await api.client.put("/engine/step/hello", json={**HELLO, "type": "nope"}), 400)
    assert await api.snapshot() == before


async def test_unknown_step_ids_are_404(api: Api) -> None:
    for response in (
        await api.client.get("/engine/step/ghost"),
        await api.client.delete("/engine/step/ghost"),
        await api.client.get("/engine/health/ghost"),
    ):
        body = problem(response, 404)
        assert "ghost" in body["detail"]


async def test_oversized_body_is_413_and_changes_nothing(api: Api) -> None:
    before = await api.snapshot()
    padding = "x" * (SMALL_BODY_LIMIT + 1)
    for method, path in (
        ("POST", "/engine/step"),
        ("PUT", "/engine/step/hello"),
        ("POST", "/engine/plan"),
        ("POST", "/engine/flow"),
        ("POST", "/webhook/f/s/t"),
    ):
        response = await api.client.request(method, path, json={**HELLO, "padding": padding})
        body = problem(response, 413)
        assert str(SMALL_BODY_LIMIT) in body["detail"]
    assert await api.snapshot() == before


async def test_body_just_under_the_limit_is_read(api: Api) -> None:
    content = b'{"goals": ["hello"], "init": {"pad": "' + b"x" * (SMALL_BODY_LIMIT - 60) + b'"}}'
    assert len(content) <= SMALL_BODY_LIMIT
    body = problem(await api.client.post("/engine/plan", content=content), 400)
    assert body["goals"] == ["hello"]


# ------------------------------------------------------------------- health


async def test_health_of_every_step_and_of_one(api: Api) -> None:
    assert (await api.client.get("/engine/health")).json() == {"health": {}, "count": 0}
    await register(api, HELLO)
    listed = (await api.client.get("/engine/health")).json()
    assert listed == {"health": {"hello": {"status": "healthy"}}, "count": 1}
    assert (await api.client.get("/engine/health/hello")).json() == {"status": "healthy"}


# -------------------------------------------------------------------- plans


async def test_plan_walks_back_from_the_goals(api: Api) -> None:
    await register(api, HELLO, SHOUT)
    response = await api.client.post(
        "/engine/plan", json={"goals": ["shout"], "init": {"name": "A"}}
    )
    assert response.status_code == 200
    plan = response.json()
    assert set(plan) == {"goals", "required", "steps", "attributes"}
    assert plan["goals"] == ["shout"]
    assert set(plan["steps"]) == {"hello", "shout"}
    assert plan["attributes"]["greeting"] == {"providers": ["hello"], "consumers": ["shout"]}
    single = await api.client.post("/engine/plan", json={"goals": "shout"})
    assert single.status_code == 200
    assert single.json()["required"] == ["name"]


async def test_plan_errors(api: Api) -> None:
    await register(api, HELLO)
    unknown = problem(await api.client.post("/engine/plan", json={"goals": ["nope"]}), 400)
    assert unknown["goals"] == ["nope"]
    bad_bodies: list[dict[str, Any]] = [
        {},
        {"goals": []},
        {"goals": [1]},
        {"goals": ["hello"], "init": [1]},
    ]
    for bad in bad_bodies:
        body = problem(await api.client.post("/engine/plan", json=bad), 400)
        assert body["problems"]
    problem(await api.client.post("/engine/plan", content=b"{"), 400)


# -------------------------------------------------------------------- flows


async def test_start_a_flow_and_follow_it_to_completion(api: Api) -> None:
    await register(api, HELLO, SHOUT)
    request = {"id": "f1", "goals": ["shout"], "init": {"name": "Ann"}}
    started = await api.client.post("/engine/flow", json=request)
    assert started.status_code == 201
    assert set(started.json()) == {"message", "flow_id"}
    assert started.json()["flow_id"] == "f1"

    state = await api.wait_flow("f1")
    assert state["attributes"]["loud"] == {"value": "Hello, Ann!", "step": "shout"}
    assert state["executions"]["hello"]["status"] == "completed"
    assert state["plan"]["goals"] == ["shout"]
    assert state["init"] == {"name": "Ann"}
    assert {"id", "status", "created_at", "completed_at", "last_updated"} <= state.keys()

    status = await api.client.get("/engine/flow/f1/status")
    assert status.json() == {"id": "f1", "status": "completed"}

    events = (await api.client.get("/engine/flow/f1/events")).json()
    assert events["count"] == len(events["events"])
    assert [e["seq"] for e in events["events"]] == list(range(1, events["count"] + 1))
    assert events["events"][0]["type"] == "flow_started"
    assert [e["type"] for e in events["events"][-2:]] == ["flow_completed", "flow_deactivated"]
    assert all(e["aggregate"] == "flow:f1" for e in events["events"])


async def test_flow_ids_are_generated_when_not_given(api: Api) -> None:
    await register(api, HELLO)
    started = await api.client.post("/engine/flow", json={"goals": "hello", "init": {"name": "B"}})
    assert started.status_code == 201
    await api.wait_flow(started.json()["flow_id"])


async def test_same_request_again_is_200_and_a_different_one_409(api: Api) -> None:
    await register(api, HELLO)
    request = {"id": "once", "goals": ["hello"], "init": {"name": "Ann"}}
    assert (await api.client.post("/engine/flow", json=request)).status_code == 201
    again = await api.client.post("/engine/flow", json=request)
    assert again.status_code == 200
    assert again.json()["flow_id"] == "once"
    await api.wait_flow("once")
    before = await api.snapshot()
    problem(await api.client.post("/engine/flow", json={**request, "init": {"name": "Bo"}}), 409)
    assert await api.snapshot() == before


async def test_missing_inputs_are_listed(api: Api) -> None:
    await register(api, HELLO, SHOUT)
    before = await api.snapshot()
    body = problem(await api.client.post("/engine/flow", json={"goals": ["shout"]}), 400)
    assert body["inputs"] == ["name"]
    assert await api.snapshot() == before


@pytest.mark.parametrize(
    "request_body",
    [
        {"goals": ["nope"]},
        {"goals": []},
        {"goals": "hello", "init": "name=Ann"},
        {"goals": [["hello"]]},
        {"goals": ["hello"], "init": {"name": "A"}, "id": 7},
        {"goals": ["hello"], "init": {"name": "A"}, "id": "bad id"},
        {"init": {"name": "A"}},
    ],
)
async def test_bad_flow_requests_are_400_and_start_nothing(api: Api, request_body: dict) -> None:
    await register(api, HELLO)
    before = await api.snapshot()
    body = problem(await api.client.post("/engine/flow", json=request_body), 400)
    assert body["problems"]
    assert await api.snapshot() == before


async def test_list_flows_filters_by_status_and_limits(api: Api) -> None:
    await register(api, HELLO)
    for number in range(3):
        request = {"id": f"f{number}", "goals": ["hello"], "init": {"name": "A"}}
        assert (await api.client.post("/engine/flow", json=request)).status_code == 201
        await api.wait_flow(f"f{number}")
    listed = (await api.client.get("/engine/flow")).json()
    assert listed["count"] == 3
    assert {flow["id"] for flow in listed["flows"]} == {"f0", "f1", "f2"}
    assert all({"id", "status", "created_at", "completed_at"} <= f.keys() for f in listed["flows"])
    limited = (await api.client.get("/engine/flow", params={"limit": 2})).json()
    assert limited["count"] == 2
    done = (await api.client.get("/engine/flow", params={"status": "completed"})).json()
    assert done["count"] == 3
    failed = (await api.client.get("/engine/flow", params={"status": "failed"})).json()
    assert failed == {"flows": [], "count": 0, "next_cursor": None}


@pytest.mark.parametrize(
    "params",
    [
        {"status": "done"},
        {"status": ""},
        {"limit": "0"},
        {"limit": "-1"},
        {"limit": "ten"},
        {"limit": "1.5"},
        {"limit": "10001"},
        {"status": "nope", "limit": "0"},
    ],
)
async def test_bad_list_queries_are_400(api: Api, params: dict) -> None:
    body = problem(await api.client.get("/engine/flow", params=params), 400)
    assert {item["field"] for item in body["problems"]} == set(params)


async def test_unknown_flow_ids_are_404(api: Api) -> None:
    for path in ("/engine/flow/ghost", "/engine/flow/ghost/status", "/engine/flow/ghost/events"):
        body = problem(await api.client.get(path), 404)
        assert "ghost" in body["detail"]


async def test_a_failing_flow_reports_its_error(api: Api) -> None:
    boom = {**HELLO, "id": "boom", "script": {"language": "ale", "script": "(/ 1 0)"}}
    await register(api, boom)
    await api.client.post(
        "/engine/flow", json={"id": "bad", "goals": ["boom"], "init": {"name": 1}}
    )
    state = await api.wait_flow("bad", "failed")
    assert state["error"]
    failed = (await api.client.get("/engine/flow", params={"status": "failed"})).json()
    assert failed["flows"][0]["id"] == "bad"
    assert failed["flows"][0]["error"]
