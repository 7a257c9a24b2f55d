"""Mappings, const and meta inputs through REST, with a real HTTP step service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from server_support import Api, problem

from argyll.testing import Call, StepService

pytestmark = pytest.mark.asyncio


def quote(call: Call) -> tuple[int, dict[str, Any]]:
    """A pricing service speaking its own names: ``sku``, ``qty``, ``ccy`` in; a nested reply."""
    body = call.body
    return 200, {"price": {"amount": body["qty"] * 3, "ccy": body["ccy"]}, "ref": body["flow"]}


@pytest.fixture
async def service() -> AsyncIterator[StepService]:
    async with StepService(quote) as running:
        yield running


def pricing(service: StepService, **outputs: Any) -> dict[str, Any]:
    return {
        "id": "price",
        "type": "sync",
        "http": {"endpoint": f"{service.url}/quote", "timeout": 5000},
        "attributes": {
            "item": {
                "role": "required",
                "type": "string",  # what the script makes of the flow's item: its sku
                "required": {
                    "mapping": {"name": "sku", "script": {"language": "jpath", "script": "$.sku"}}
                },
            },
            "quantity": {
                "role": "required",
                "type": "number",
                "required": {"mapping": {"name": "qty"}},
            },
            "ccy": {"role": "const", "type": "string", "const": {"value": '"EUR"'}},
            "flow": {"role": "meta", "meta": {"key": "flow_id"}},
            "total": {
                "role": "output",
                "type": "number",
                "output": {
                    "mapping": {
                        "name": "price",
                        "script": {"language": "ale", "script": '(get value "amount")'},
                    }
                },
            },
            "quote_ref": {"role": "output", "output": {"mapping": {"name": "ref"}}},
            **outputs,
        },
    }


async def start(api: Api, flow_id: str, init: dict[str, Any]) -> dict[str, Any]:
    body = {"id": flow_id, "goals": ["price"], "init": init}
    started = await api.client.post("/engine/flow", json=body)
    assert started.status_code == 201, started.text
    return await api.wait_flow(flow_id, status="completed")


async def test_the_service_speaks_its_names_and_the_flow_keeps_its_own(
    api: Api, service: StepService
) -> None:
    registered = await api.client.post("/engine/step", json=pricing(service))
    assert registered.status_code == 201, registered.text
    read_back = (await api.client.get("/engine/step/price")).json()
    assert read_back["attributes"]["quantity"]["required"] == {"mapping": {"name": "qty"}}

    state = await start(api, "q1", {"item": {"sku": "A-1", "colour": "red"}, "quantity": 4})
    (call,) = service.calls
    assert call.body == {"sku": "A-1", "qty": 4, "ccy": "EUR", "flow": "q1"}
    assert state["attributes"]["total"] == {"value": 12, "step": "price"}
    assert state["attributes"]["quote_ref"]["value"] == "q1"
    execution = state["executions"]["price"]
    assert execution["inputs"] == {
        "item": {"sku": "A-1", "colour": "red"},
        "quantity": 4,
        "ccy": "EUR",
    }
    (item,) = execution["work_items"].values()
    assert item["inputs"] == {"sku": "A-1", "qty": 4, "ccy": "EUR"}
    assert item["outputs"] == {"price": {"amount": 12, "ccy": "EUR"}, "ref": "q1"}
    assert execution["outputs"] == {"total": 12, "quote_ref": "q1"}


async def test_init_overrides_a_const_and_a_wrong_type_is_a_400(
    api: Api, service: StepService
) -> None:
    assert (await api.client.post("/engine/step", json=pricing(service))).status_code == 201
    await start(api, "usd", {"item": {"sku": "B"}, "quantity": 1, "ccy": "USD"})
    assert service.calls[0].body["ccy"] == "USD"

    body = {"goals": ["price"], "init": {"item": {"sku": "B"}, "quantity": 1, "ccy": 5}}
    refused = problem(await api.client.post("/engine/flow", json=body), 400)
    assert "init.ccy" in refused["detail"]


async def test_a_failing_output_mapping_fails_the_flow_with_its_reason(
    api: Api, service: StepService
) -> None:
    broken = {
        "role": "output",
        "output": {"mapping": {"script": {"language": "lua", "script": "error('bad reply')"}}},
    }
    assert (
        await api.client.post("/engine/step", json=pricing(service, broken=broken))
    ).status_code == 201
    body = {"id": "b1", "goals": ["price"], "init": {"item": {"sku": "C"}, "quantity": 2}}
    assert (await api.client.post("/engine/flow", json=body)).status_code == 201
    state = await api.wait_flow("b1", status="failed")
    error = state["executions"]["price"]["error"]
    assert error.startswith("output 'broken' mapping (lua) failed:")
    assert "bad reply" in error
    assert len(service.calls) == 1  # a mapping error is permanent: no retry


async def test_mapping_definitions_that_break_the_rules_are_refused(
    api: Api, service: StepService
) -> None:
    twice = pricing(service)
    twice["attributes"]["other"] = {"role": "required", "required": {"mapping": {"name": "qty"}}}
    detail = problem(await api.client.post("/engine/step", json=twice), 400)["detail"]
    assert "attributes.other.required.mapping.name" in detail

    on_const = pricing(service)
    on_const["attributes"]["ccy"]["const"]["mapping"] = {"name": "c"}
    detail = problem(await api.client.post("/engine/step", json=on_const), 400)["detail"]
    assert "attributes.ccy.const" in detail
