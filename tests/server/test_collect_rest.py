"""Collect modes and match gates over REST, with real HTTP step services on loopback."""

import asyncio
from typing import Any

from server_support import Api

from argyll.testing import Call, StepService


def quoter(step_id: str, url: str) -> dict[str, Any]:
    return {
        "id": step_id,
        "type": "sync",
        "attributes": {"quote": {"role": "output", "type": "number"}},
        "http": {"endpoint": f"{url}/{step_id}"},
    }


def chooser(url: str, collect: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "choose",
        "type": "sync",
        "attributes": {
            "quote": {"role": "required", "type": "array", "required": collect},
            "best": {"role": "output", "type": "number"},
        },
        "http": {"endpoint": f"{url}/choose"},
    }


def answer(call: Call) -> tuple[int, dict[str, Any]]:
    prices = {"/low": 3, "/mid": 5, "/high": 9}
    if call.path in prices:
        return 200, {"quote": prices[call.path]}
    return 200, {"best": min(call.body["quote"])}


async def register(api: Api, *steps: dict[str, Any]) -> None:
    for step in steps:
        response = await api.client.post("/engine/step", json=step)
        assert response.status_code == 201, response.text


async def test_collect_all_gives_the_service_every_quote(api):
    async with StepService(answer) as service:
        quoters = [quoter(name, service.url) for name in ("low", "mid", "high")]
        await register(api, *quoters, chooser(service.url, {"collect": "all"}))
        response = await api.client.post("/engine/flow", json={"goals": ["choose"], "init": {}})
        assert response.status_code == 201, response.text
        state = await api.wait_flow(response.json()["flow_id"])
    (call,) = [c for c in service.calls if c.path == "/choose"]
    assert sorted(call.body["quote"]) == [3, 5, 9]
    assert state["attributes"]["best"]["value"] == 3
    candidates = state["attributes"]["quote"]["values"]
    assert sorted((c["step"], c["value"]) for c in candidates) == [
        ("high", 9),
        ("low", 3),
        ("mid", 5),
    ]


async def test_an_unmet_match_skips_the_step_and_says_why(api):
    gate = {"collect": "all", "match": {"language": "lua", "script": "return value < 6"}}
    async with StepService(answer) as service:
        quoters = [quoter(name, service.url) for name in ("low", "high")]
        await register(api, *quoters, chooser(service.url, gate))
        response = await api.client.post("/engine/flow", json={"goals": ["choose"], "init": {}})
        flow_id = response.json()["flow_id"]
        state = await api.wait_flow(flow_id)
        explained = (await api.client.get(f"/engine/flow/{flow_id}/explain")).json()
    assert not [c for c in service.calls if c.path == "/choose"]
    execution = state["executions"]["choose"]
    assert execution["status"] == "skipped"
    assert execution["unsatisfied"] == ["quote"]
    assert explained["steps"]["choose"]["reason"] == "inputs_unsatisfied"
    events = (await api.client.get(f"/engine/flow/{flow_id}/events")).json()
    skipped = [e for e in events["events"] if e["type"] == "step_skipped"]
    assert skipped[0]["data"]["unsatisfied"] == ["quote"]


async def test_a_scalar_type_on_a_gathering_input_is_a_400_naming_the_field(api):
    step = chooser("http://127.0.0.1:9", {"collect": "some"})
    step["attributes"]["quote"]["type"] = "number"
    response = await api.client.post("/engine/step", json=step)
    assert response.status_code == 400
    assert "attributes.quote.type" in response.text


async def test_an_optional_input_stops_waiting_at_its_deadline(api):
    release = asyncio.Event()

    async def late(call: Call) -> tuple[int, dict[str, Any]]:
        if call.path == "/render":
            return 200, {"page": f"discount {call.body['discount']}"}
        await release.wait()
        return 200, {"discount": 30}

    render = {
        "id": "render",
        "type": "sync",
        "attributes": {
            "discount": {
                "role": "optional",
                "type": "number",
                "optional": {"default": "0", "deadline": 300},
            },
            "page": {"role": "output", "type": "string"},
        },
    }
    async with StepService(late) as service:
        render["http"] = {"endpoint": f"{service.url}/render"}
        slow = {
            "id": "slow-discount",
            "type": "sync",
            "attributes": {"discount": {"role": "output", "type": "number"}},
            "http": {"endpoint": f"{service.url}/discount"},
        }
        await register(api, slow, render)
        response = await api.client.post("/engine/flow", json={"goals": ["render"], "init": {}})
        state = await api.wait_flow(response.json()["flow_id"])
        release.set()
    assert state["attributes"]["page"]["value"] == "discount 0"
    assert state["executions"]["render"]["inputs"] == {"discount": 0}
