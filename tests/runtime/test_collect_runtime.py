"""Collect modes in a running engine: an optional input's deadline outlives a restart."""

import asyncio
from datetime import timedelta

from argyll import Engine
from argyll.model import StepStatus
from argyll.testing import Call, StepService, script_step

DEADLINE_MS = 800


def slow_provider(url: str) -> dict:
    return {
        "id": "slow",
        "type": "sync",
        "attributes": {"hint": {"role": "output"}},
        "http": {"endpoint": url, "timeout": 30_000},
    }


def waiting_consumer() -> dict:
    step = script_step("render", '{:page (str "hint: " hint)}', outputs=["page"])
    step["attributes"]["hint"] = {
        "role": "optional",
        "optional": {"default": '"none"', "deadline": DEADLINE_MS},
    }
    return step


async def test_a_deadline_fires_after_a_restart(tmp_path):
    store = f"sqlite:///{tmp_path / 'argyll.db'}"
    release = asyncio.Event()

    async def never_in_time(call: Call) -> tuple[int, dict]:
        await release.wait()
        return 200, {"hint": "late"}

    async with StepService(never_in_time) as service:
        async with Engine(store) as first:
            await first.register_step(slow_provider(service.url))
            await first.register_step(waiting_consumer())
            flow_id = await first.start_flow(["render"], {}, flow_id="deadline-1")
            state = await first.get_flow(flow_id)
            assert state.executions["render"].status is StepStatus.PENDING
        async with Engine(store) as second:
            done = await second.wait_flow(flow_id, timeout=10)
        release.set()
    render = done.executions["render"]
    assert done.status.value == "completed"
    assert render.inputs == {"hint": "none"}
    assert render.started_at >= done.created_at + timedelta(milliseconds=DEADLINE_MS)
    assert done.attributes["page"].value == "hint: none"
