"""Mappings, const and meta inputs in a real engine: HTTP bodies, webhook URLs, script steps."""

import asyncio

import pytest

from argyll import Engine
from argyll.decide import Succeeded
from argyll.errors import ValidationError
from argyll.model import FlowStatus
from argyll.testing import Call, StepService

HOOKED = {
    "x": {"role": "required", "required": {"mapping": {"name": "amount"}}},
    "hook": {"role": "meta", "meta": {"key": "webhook_url"}},
    "token": {"role": "meta", "meta": {"key": "receipt_token"}},
    "paid": {"role": "output", "output": {"mapping": {"name": "status"}}},
}


def step(step_id: str, kind: str, url: str) -> dict:
    return {
        "id": step_id,
        "type": kind,
        "attributes": HOOKED,
        "http": {"endpoint": url, "timeout": 5000},
    }


@pytest.fixture
async def engine():
    async with Engine("memory://", webhook_base_url="http://argyll.test:8080") as running:
        yield running


async def test_an_async_step_gets_its_webhook_url_as_a_meta_input(engine):
    called = asyncio.Event()

    def acknowledge(call: Call):
        called.set()
        return 202, {"accepted": True}

    async with StepService(acknowledge) as svc:
        await engine.register_step(step("pay", "async", f"{svc.url}/pay"))
        flow_id = await engine.start_flow(["pay"], {"x": 5}, flow_id="f-hook")
        async with asyncio.timeout(10):
            await called.wait()
    (call,) = svc.calls
    token = call.headers["Argyll-Receipt-Token"]
    hook = f"http://argyll.test:8080/webhook/f-hook/pay/{token}"
    assert call.body == {"amount": 5, "hook": hook, "token": token}
    assert call.headers["Argyll-Webhook-Url"] == hook
    await engine.complete_work(flow_id, "pay", token, Succeeded({"status": "done"}))
    state = await engine.wait_flow(flow_id, timeout=10)
    assert state.attributes["paid"].value == "done"
    assert state.executions["pay"].work_items[token].inputs == {"amount": 5}


async def test_a_sync_step_has_no_webhook_url_meta(engine):
    async with StepService(lambda call: (200, {"status": "ok"})) as svc:
        await engine.register_step(step("charge", "sync", f"{svc.url}/charge"))
        state = await engine.wait_flow(await engine.start_flow(["charge"], {"x": 1}), timeout=10)
    (call,) = svc.calls
    assert call.body == {"amount": 1, "token": call.headers["Argyll-Receipt-Token"]}
    assert state.attributes["paid"].value == "ok"


async def test_a_script_step_computes_with_mapped_const_and_meta_inputs(engine):
    await engine.register_step(
        {
            "id": "label",
            "type": "script",
            "script": {"language": "ale", "script": '{:text (str prefix ":" n ":" flow)}'},
            "attributes": {
                "count": {
                    "role": "required",
                    "required": {
                        "mapping": {
                            "name": "n",
                            "script": {"language": "lua", "script": "return value + 1"},
                        }
                    },
                },
                "prefix": {"role": "const", "const": {"value": '"id"'}},
                "flow": {"role": "meta", "meta": {"key": "flow_id"}},
                "label": {
                    "role": "output",
                    "output": {
                        "mapping": {
                            "name": "text",
                            "script": {"language": "jpath", "script": "$"},
                        }
                    },
                },
            },
        }
    )
    state = await engine.wait_flow(
        await engine.start_flow(["label"], {"count": 1}, flow_id="f-s"), timeout=10
    )
    assert state.status is FlowStatus.COMPLETED
    assert state.attributes["label"].value == "id:2:f-s"
    again = await engine.wait_flow(
        await engine.start_flow(["label"], {"count": 1, "prefix": "no"}, flow_id="f-o"), timeout=10
    )
    assert again.attributes["label"].value == "no:2:f-o"


async def test_a_mapping_script_that_does_not_compile_is_refused(engine):
    bad = step("bad", "sync", "http://svc.test/x")
    bad["attributes"] = {
        **HOOKED,
        "x": {
            "role": "required",
            "required": {"mapping": {"script": {"language": "jpath", "script": "$[?"}}},
        },
    }
    with pytest.raises(ValidationError) as refused:
        await engine.register_step(bad)
    assert [where for where, _ in refused.value.problems] == [
        "attributes.x.required.mapping.script.script"
    ]
