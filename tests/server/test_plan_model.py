"""POST /engine/plan over the full step model, black-box: child plans nested, excluded groups,
sub-flow requirements refused up front, recursive compositions refused at registration."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import jsonschema
import pytest
from server_support import Api, problem, running_api

from argyll.testing import Call, StepService


def http_step(sid: str, url: str, requires=(), outputs=()) -> dict[str, Any]:
    attributes = {name: {"role": "required"} for name in requires}
    attributes |= {name: {"role": "output"} for name in outputs}
    return {"id": sid, "type": "sync", "attributes": attributes, "http": {"endpoint": url}}


def sub_flow(sid: str, goals, attributes: dict[str, Any]) -> dict[str, Any]:
    return {"id": sid, "type": "flow", "flow": {"goals": list(goals)}, "attributes": attributes}


@pytest.fixture
async def served() -> AsyncIterator[tuple[Api, StepService]]:
    def answer(call: Call) -> tuple[int, Any]:
        return 200, {"net": 1, "rate": 2}

    async with running_api() as api, StepService(answer) as service:
        yield api, service


async def plan_schema(api: Api) -> dict[str, Any]:
    """The served document's Plan schema, its references resolvable."""
    document = (await api.client.get("/engine/openapi.json")).json()
    return {"$ref": "#/components/schemas/Plan", "components": document["components"]}


async def register(api: Api, *definitions: dict[str, Any]) -> None:
    for definition in definitions:
        response = await api.client.post("/engine/step", json=definition)
        assert response.status_code == 201, response.text


PRICING = sub_flow(
    "pricing",
    ["price"],
    {
        "amount": {"role": "required", "required": {"mapping": {"name": "qty"}}},
        "total": {"role": "output", "output": {"mapping": {"name": "net"}}},
    },
)


async def test_plan_shows_the_child_plan_nested_and_what_was_left_out(served) -> None:
    api, service = served
    await register(
        api,
        http_step("rates", service.url, requires=["region"], outputs=["rate"]),
        http_step("default-rate", service.url, outputs=["rate"]),
        http_step("price", service.url, requires=["qty", "rate"], outputs=["net"]),
        PRICING,
        http_step("invoice", service.url, requires=["total"], outputs=["invoice"]),
    )
    response = await api.client.post(
        "/engine/plan", json={"goals": ["invoice"], "init": {"amount": 3}}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body["steps"]) == {"pricing", "invoice"}
    assert body["required"] == []
    child = body["children"]["pricing"]
    assert child["goals"] == ["price"]
    assert set(child["steps"]) == {"price", "default-rate"}
    assert child["excluded"] == {"missing": {"rates": ["region"]}}
    assert "excluded" not in body
    jsonschema.validate(body, await plan_schema(api))


async def test_satisfied_and_blocked_providers_are_reported(served) -> None:
    api, service = served
    quiet = http_step("quiet", service.url, requires=["alarm"], outputs=["rate"])
    quiet["attributes"]["alarm"]["required"] = {"collect": "none"}
    await register(
        api,
        quiet,
        http_step("loud", service.url, requires=["alarm"], outputs=["rate"]),
        http_step("scale", service.url, outputs=["unit"]),
        http_step("price", service.url, requires=["rate", "unit"], outputs=["net"]),
    )
    response = await api.client.post(
        "/engine/plan", json={"goals": ["price"], "init": {"alarm": True, "unit": "kg"}}
    )
    body = response.json()
    assert set(body["steps"]) == {"loud", "price"}
    assert body["excluded"] == {"satisfied": {"scale": ["unit"]}, "blocked": {"quiet": ["alarm"]}}
    jsonschema.validate(body, await plan_schema(api))


async def test_a_start_missing_what_the_child_needs_is_refused_naming_it(served) -> None:
    api, service = served
    await register(
        api,
        http_step("price", service.url, requires=["qty", "rate"], outputs=["net"]),
        PRICING,
    )
    planned = (
        await api.client.post("/engine/plan", json={"goals": ["pricing"], "init": {"amount": 1}})
    ).json()
    assert planned["required"] == ["rate"]
    assert planned["children"]["pricing"]["required"] == ["rate"]
    started = await api.client.post(
        "/engine/flow", json={"id": "f1", "goals": ["pricing"], "init": {"amount": 1}}
    )
    assert problem(started, 400)["inputs"] == ["rate"]
    assert (await api.client.get("/engine/flow/f1")).status_code == 404


async def test_an_output_the_child_cannot_produce_is_a_400_naming_it(served) -> None:
    api, service = served
    broken = sub_flow(
        "broken",
        ["price"],
        {
            "qty": {"role": "required"},
            "rate": {"role": "required"},
            "tax": {"role": "output"},
        },
    )
    await register(
        api, http_step("price", service.url, requires=["qty", "rate"], outputs=["net"]), broken
    )
    response = await api.client.post("/engine/plan", json={"goals": ["broken"], "init": {}})
    fields = [p["field"] for p in problem(response, 400)["problems"]]
    assert fields == ["steps.broken.attributes.tax"]


async def test_a_recursive_composition_is_refused_at_registration(served) -> None:
    api, service = served
    await register(api, http_step("leaf", service.url), sub_flow("outer", ["inner"], {}))
    before = await api.snapshot()
    response = await api.client.post("/engine/step", json=sub_flow("inner", ["outer"], {}))
    body = problem(response, 400)
    assert body["problems"] == [
        {
            "field": "flow.goals",
            "reason": "recursive composition: flow inner -> flow outer -> inner",
        }
    ]
    assert await api.snapshot() == before
    assert not service.calls
