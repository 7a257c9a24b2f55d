"""What every reply looks like on the wire: JSON ending in a newline, errors with their fields."""

from __future__ import annotations

import pytest
from server_support import HELLO, Api, problem

from argyll.problems import TYPE_PREFIX
from argyll.wire import JSON_CONTENT_TYPE


@pytest.mark.parametrize("path", ["/health", "/engine", "/engine/step", "/engine/openapi.json"])
async def test_json_replies_end_with_a_newline(api: Api, path: str) -> None:
    response = await api.client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == JSON_CONTENT_TYPE
    assert response.text.endswith("}\n") and not response.text.endswith("\n\n")


@pytest.mark.parametrize("path", ["/nothing-here", "/engine/nothing-here", "/engine/step/a/b"])
async def test_unknown_paths_are_problem_json_not_a_page(api: Api, path: str) -> None:
    response = await api.client.get(path)
    body = problem(response, 404)
    assert path in body["detail"]
    assert response.text.endswith("}\n")
    assert "<html" not in response.text.lower()


async def test_a_missing_step_names_its_kind_and_id(api: Api) -> None:
    response = await api.client.get("/engine/step/ghost")
    body = problem(response, 404)
    assert (body["type"], body["kind"], body["ident"]) == (
        TYPE_PREFIX + "not-found",
        "step",
        "ghost",
    )
    assert response.text.endswith("}\n")


async def test_a_missing_flow_names_its_kind_and_id(api: Api) -> None:
    body = problem(await api.client.get("/engine/flow/ghost/events"), 404)
    assert (body["kind"], body["ident"]) == ("flow", "ghost")


async def test_missing_inputs_and_unknown_goals_carry_their_names(api: Api) -> None:
    assert (await api.client.post("/engine/step", json=HELLO)).status_code == 201
    missing = problem(await api.client.post("/engine/flow", json={"goals": ["hello"]}), 400)
    assert missing["type"] == TYPE_PREFIX + "missing-inputs"
    assert missing["inputs"] == ["name"]
    assert missing["problems"] and {"field", "reason"} == set(missing["problems"][0])
    unknown = problem(await api.client.post("/engine/plan", json={"goals": ["nope"]}), 400)
    assert (unknown["type"], unknown["goals"]) == (TYPE_PREFIX + "unknown-goals", ["nope"])


async def test_an_invalid_step_lists_each_problem(api: Api) -> None:
    body = problem(await api.client.post("/engine/step", json={"id": "bad id!"}), 400)
    assert body["type"] == TYPE_PREFIX + "validation"
    assert {"id", "type"} <= {item["field"] for item in body["problems"]}
