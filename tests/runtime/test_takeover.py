"""Another engine takes over a dead engine's work once its lease lapses, each item once."""

import asyncio
import collections
import os
import signal
import sys
from pathlib import Path

from argyll import Engine
from argyll.model import FlowStatus
from argyll.testing import Call, StepService

WORKER = Path(__file__).with_name("engine_process.py")
FLOWS = 4


async def test_survivor_takes_over_when_the_lease_lapses(tmp_path):
    store = f"sqlite:///{tmp_path / 'argyll.db'}"
    released, all_called = asyncio.Event(), asyncio.Event()

    async def answer(call: Call):
        if len(service.calls) == FLOWS:
            all_called.set()
        await released.wait()
        return 200, {"y": call.body["x"] * 2}

    async with (
        StepService(answer) as service,
        Engine(store, lease_ttl=1.0, heartbeat_interval=0.1, instance_id="survivor") as survivor,
    ):
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(WORKER),
            store,
            service.url,
            str(FLOWS),
            "elsewhere:1:doomed",
            "1.0",
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
        )
        try:
            async with asyncio.timeout(20):
                await all_called.wait()
            assert "elsewhere:1:doomed" in await survivor.store.live_instances()
            await asyncio.sleep(0.3)  # three of the survivor's sweeps: absence can't be awaited
            assert len(service.calls) == FLOWS, "a live instance's work must not be taken"
        finally:
            process.send_signal(signal.SIGKILL)
            await process.wait()
        released.set()
        states = [await survivor.wait_flow(f"flow-{i}", timeout=20) for i in range(FLOWS)]
        logs = [await survivor.flow_events(f"flow-{i}") for i in range(FLOWS)]

    assert [s.status for s in states] == [FlowStatus.COMPLETED] * FLOWS
    first = {c.headers["Argyll-Receipt-Token"] for c in service.calls[:FLOWS]}
    again = {c.headers["Argyll-Receipt-Token"] for c in service.calls[FLOWS:]}
    assert again == first
    for log in logs:
        succeeded = collections.Counter(
            e["data"]["token"] for e in log if e["type"] == "work_succeeded"
        )
        assert set(succeeded.values()) == {1}
        claims = [e["data"]["instance"] for e in log if e["type"] == "work_started"]
        assert claims.count("survivor") >= 1
