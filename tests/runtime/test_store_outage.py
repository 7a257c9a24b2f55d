"""While the store refuses writes, finished work is kept and recorded once it is back."""

import asyncio

import pytest

from argyll import Engine
from argyll.errors import StoreError
from argyll.model import FlowStatus
from argyll.store.memory import MemoryEventStore
from argyll.testing import Call, StepService, script_step


class FlakyStore(MemoryEventStore):
    """A memory store whose appends fail while ``down`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.refused = asyncio.Event()

    async def append(self, aggregate, expected, events, timestamp):
        if self.down:
            self.refused.set()
            raise StoreError("memory://: down for the test")
        return await super().append(aggregate, expected, events, timestamp)


async def test_work_finished_during_an_outage_is_recorded_after_it():
    store = FlakyStore()
    async with Engine(store) as engine:
        await engine.register_step(
            script_step("slow", "{:x (reduce + 0 (range 0 2000))}", outputs=["x"])
        )
        store.down = True
        with pytest.raises(StoreError):
            await engine.start_flow(["slow"], flow_id="refused")
        store.down = False
        flow_id = await engine.start_flow(["slow"], flow_id="f")
        store.down = True  # before the work's task runs: its result meets the outage
        async with asyncio.timeout(5):
            await store.refused.wait()
        store.down = False
        state = await engine.wait_flow(flow_id, timeout=10)
    assert state.status is FlowStatus.COMPLETED
    assert state.attributes["x"].value == sum(range(2000))
    assert [f.id for f in await store.list_flows()] == ["f"]
    await store.aclose()


async def test_redis_stopped_and_restarted_mid_run_loses_nothing(local_redis):
    server = local_redis
    released, first_calls = asyncio.Event(), asyncio.Event()

    async def answer(call: Call):
        if len(service.calls) >= 10:
            first_calls.set()
        await released.wait()
        return 200, {"y": call.body["n"] + 1}

    step = {
        "id": "slow",
        "type": "sync",
        "attributes": {"n": {"role": "required"}, "y": {"role": "output"}},
        "http": {"endpoint": ""},
    }
    async with StepService(answer) as service, Engine(server.url) as engine:
        step["http"]["endpoint"] = service.url
        await engine.register_step(step)
        ids = [await engine.start_flow(["slow"], {"n": i}) for i in range(10)]
        async with asyncio.timeout(10):
            await first_calls.wait()
        server.kill()
        released.set()
        with pytest.raises(StoreError):
            await engine.flow_events(ids[0])
        assert (await engine.store_health())["status"] == "unhealthy"
        server.start()
        assert (await engine.store_health())["status"] == "ok"
        states = [await engine.wait_flow(i, timeout=30) for i in ids]
        logs = [await engine.flow_events(i) for i in ids]
    assert [s.attributes["y"].value for s in states] == [i + 1 for i in range(10)]
    for log in logs:
        assert [e["type"] for e in log].count("work_succeeded") == 1
        assert [e["seq"] for e in log] == list(range(1, len(log) + 1))
