"""Step and flow bodies over REST are judged by the model's one schema: unknown fields are
refused by name, a step read back registers as the same step, and problems speak JSON.
"""

from __future__ import annotations

from typing import Any

import pytest
from server_support import HELLO, Api, problem

EVERY_FIELD = {
    "id": "quote",
    "name": "Quote",
    "type": "async",
    "version": "2.1",
    "labels": {"team": "billing", "tier": "gold"},
    "attributes": {
        "quantity": {"role": "required", "type": "number"},
        "items": {"role": "required", "type": "array", "required": {"for_each": True}},
        "coupon": {"role": "optional", "type": "string", "optional": {"default": '"NONE"'}},
        "sizes": {"role": "optional", "optional": {"default": "[1, 2]", "for_each": True}},
        "total": {"role": "output", "type": "number"},
    },
    "http": {
        "endpoint": "http://127.0.0.1:9/quote/{quantity}",
        "method": "put",
        "health_check": "http://127.0.0.1:9/health",
        "timeout": 2500,
    },
    "predicate": {"language": "ale", "script": "(> quantity 0)"},
    "work_config": {
        "max_retries": -1,
        "init_backoff": 10,
        "max_backoff": 900,
        "backoff_type": "fixed",
        "parallelism": 3,
        "concurrency": 2,
    },
}
EVERY_SCRIPT_FIELD = {
    **{key: value for key, value in EVERY_FIELD.items() if key != "http"},
    "id": "quote-script",
    "type": "script",
    "script": {"language": "lua", "script": "return {total = quantity * 2}"},
}


def nested_form(definition: dict[str, Any]) -> dict[str, Any]:
    """The same definition with each input's settings nested under its role."""
    attributes = {}
    for name, spec in definition["attributes"].items():
        form = {key: spec[key] for key in ("role", "type") if key in spec}
        settings = {key: spec[key] for key in ("default", "for_each") if key in spec}
        attributes[name] = {**form, spec["role"]: settings} if settings else form
    return {**definition, "attributes": attributes}


async def definitions_changed(api: Api) -> int:
    """How many catalog events registered or updated a step."""
    events = await api.engine.store.read("catalog")
    return sum(type(event.data).type in ("step_registered", "step_updated") for event in events)


@pytest.mark.parametrize("definition", [EVERY_FIELD, EVERY_SCRIPT_FIELD], ids=["http", "script"])
async def test_a_step_read_back_registers_as_the_same_step_in_either_form(
    api: Api, definition: dict[str, Any]
) -> None:
    created = await api.client.post("/engine/step", json=definition)
    assert created.status_code == 201, created.text
    path = f"/engine/step/{definition['id']}"
    read = (await api.client.get(path)).json()
    assert read == created.json()["step"]
    for again in (read, nested_form(read), definition):
        response = await api.client.post("/engine/step", json=again)
        assert response.status_code == 200, response.text
        assert response.json()["step"] == read
        assert (await api.client.put(path, json=again)).status_code == 200
    assert await definitions_changed(api) == 1
    assert (await api.client.get(path)).json() == read


@pytest.mark.parametrize(
    ("change", "unknown"),
    [
        ({"memoised": True, "mapping": {}}, {"memoised", "mapping"}),
        ({"script": {**HELLO["script"], "compensate": "x"}}, {"script.compensate"}),
        (
            {"attributes": {"name": {"role": "required", "required": {"colect": "all"}}}},
            {"attributes.name.required.colect"},
        ),
        (
            {"work_config": {"deadline": 5, "rate_limit": 1}},
            {"work_config.deadline", "work_config.rate_limit"},
        ),
    ],
)
async def test_unknown_step_fields_are_400_naming_each_and_change_nothing(
    api: Api, change: dict[str, Any], unknown: set[str]
) -> None:
    before = await api.snapshot()
    body = problem(await api.client.post("/engine/step", json={**HELLO, **change}), 400)
    assert {item["field"] for item in body["problems"]} == unknown
    problem(await api.client.put("/engine/step/hello", json={**HELLO, **change}), 400)
    assert await api.snapshot() == before


@pytest.mark.parametrize(
    ("path", "request_body", "unknown"),
    [
        ("/engine/flow", {"parent": "x", "tags": []}, {"parent", "tags"}),
        ("/engine/flow", {"wait": 1}, {"wait"}),
        ("/engine/plan", {"id": "f"}, {"id"}),
        ("/engine/plan", {"labels": {}}, {"labels"}),
    ],
)
async def test_unknown_request_fields_are_400_naming_each_and_start_nothing(
    api: Api, path: str, request_body: dict[str, Any], unknown: set[str]
) -> None:
    assert (await api.client.post("/engine/step", json=HELLO)).status_code == 201
    before = await api.snapshot()
    sent = {"goals": ["hello"], "init": {"name": "Ann"}, **request_body}
    body = problem(await api.client.post(path, json=sent), 400)
    assert {item["field"] for item in body["problems"]} == unknown
    assert await api.snapshot() == before


async def test_the_flow_request_accepts_what_it_always_did(api: Api) -> None:
    assert (await api.client.post("/engine/step", json=HELLO)).status_code == 201
    for sent in (
        {"goals": "hello", "init": {"name": "A"}},
        {"goals": ["hello"], "init": {"name": "A"}, "id": "kept"},
    ):
        assert (await api.client.post("/engine/flow", json=sent)).status_code == 201
        assert (await api.client.post("/engine/plan", json={"goals": sent["goals"]})).is_success


async def test_problems_name_each_field_once_and_show_what_was_sent_as_json(api: Api) -> None:
    sent = {"id": "h", "type": "sync", "http": {"endpoint": 3}, "name": None, "version": ""}
    body = problem(await api.client.post("/engine/step", json=sent), 400)
    assert [(p["field"], p["reason"].rsplit(", ", 1)[-1]) for p in body["problems"]] == [
        ("http.endpoint", "got 3"),
        ("name", "got null"),
    ]
    flow = problem(await api.client.post("/engine/flow", json={"goals": [], "init": ""}), 400)
    assert [(p["field"], p["reason"]) for p in flow["problems"]] == [
        ("goals", "must not be empty, got []"),
        ("init", 'must be an object, got ""'),
    ]
