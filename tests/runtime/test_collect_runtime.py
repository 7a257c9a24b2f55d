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


async def test_a_restart_sets_the_deadline_again_when_no_work_is_taken_over(tmp_path):
    """The same instance comes back: its provider's item is its own, so nothing is taken
    over and no decision runs; only the wakes set at start-up end the wait in time."""
    store = f"sqlite:///{tmp_path / 'argyll.db'}"
    acknowledged = asyncio.Event()

    def acknowledge(call: Call) -> tuple[int, None]:
        acknowledged.set()
        return 202, None

    async with StepService(acknowledge) as service:
        provider = {**slow_provider(service.url), "type": "async"}
        async with Engine(store, instance_id="same") as first:
            await first.register_step(provider)
            await first.register_step(waiting_consumer())
            flow_id = await first.start_flow(["render"], {}, flow_id="deadline-2")
            await asyncio.wait_for(acknowledged.wait(), 5)
        async with Engine(store, instance_id="same", lease_ttl=30) as second:
            done = await second.wait_flow(flow_id, timeout=5)
    assert done.executions["render"].inputs == {"hint": "none"}
    assert done.executions["slow"].status is StepStatus.ACTIVE
