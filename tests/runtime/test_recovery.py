"""Interrupted flows finish after a restart or on a surviving engine, each work item once."""

import asyncio
import collections
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from argyll import Engine
from argyll.apply import fold_flow
from argyll.events import Event, WorkStarted, flow_aggregate
from argyll.model import FlowStatus
from argyll.store import EventStore, open_store
from argyll.store.feed import Wanted
from argyll.testing import Call, StepService, script_step, wait_until

WORKER = Path(__file__).with_name("engine_process.py")
FLOWS = 5


class HeldService:
    """Step `b` of engine_process.py: answers y = 2x, but only once released."""

    def __init__(self) -> None:
        self.released, self.all_called = asyncio.Event(), asyncio.Event()
        self.service = StepService(self.answer)

    async def answer(self, call: Call) -> tuple[int, dict]:
        if len(self.service.calls) == FLOWS:
            self.all_called.set()
        await self.released.wait()
        return 200, {"y": call.body["x"] * 2}

    def tokens(self, calls: slice) -> set[str]:
        return {c.headers["Argyll-Receipt-Token"] for c in self.service.calls[calls]}


async def start_worker(store: str, held: HeldService, *lease: str) -> asyncio.subprocess.Process:
    """An engine process that starts FLOWS flows; returns once each has called `b`."""
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, str(WORKER), store, held.service.url, str(FLOWS), *lease),
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )
    try:
        async with asyncio.timeout(20):
            await held.all_called.wait()
    except BaseException:
        await kill(process)
        raise
    return process


async def kill(process: asyncio.subprocess.Process) -> None:
    process.send_signal(signal.SIGKILL)
    await process.wait()


def check_each_item_succeeded_once(logs: list[list[dict]]) -> None:
    for log in logs:
        succeeded = collections.Counter(
            e["data"]["token"] for e in log if e["type"] == "work_succeeded"
        )
        assert len(succeeded) == 3
        assert set(succeeded.values()) == {1}
        assert [e["seq"] for e in log] == list(range(1, len(log) + 1))


async def test_killed_engine_resumes_every_flow_on_restart(tmp_path):
    store = f"sqlite:///{tmp_path / 'argyll.db'}"
    held = HeldService()
    async with held.service:
        await kill(await start_worker(store, held))
        held.released.set()
        async with Engine(store) as engine:
            states = [await engine.wait_flow(f"flow-{i}", timeout=20) for i in range(FLOWS)]
            logs = [await engine.flow_events(f"flow-{i}") for i in range(FLOWS)]

    assert [s.status for s in states] == [FlowStatus.COMPLETED] * FLOWS
    assert [s.attributes["z"].value for s in states] == [(i + 1) * 20 for i in range(FLOWS)]
    assert held.tokens(slice(FLOWS, None)) == held.tokens(slice(None, FLOWS))
    check_each_item_succeeded_once(logs)
    for log in logs:
        started = collections.Counter(
            e["data"]["step_id"] for e in log if e["type"] == "step_started"
        )
        assert started == {"a": 1, "b": 1, "c": 1}


class WatchedStore:
    """A store that counts an engine's lease sweeps and keeps the events its follower took.

    Each sweep starts by asking for the live instances, and sweeps run one after
    another, so once ``sweeps`` reaches n + 1 the n-th sweep has done all it would.
    """

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.sweeps = 0
        self.followed: list[Event] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    async def live_instances(self) -> set[str]:
        self.sweeps += 1
        return await self.store.live_instances()

    def subscribe(
        self, after: str | None = None, wanted: Wanted | None = None
    ) -> AsyncIterator[Event]:
        return self._taken(self.store.subscribe(after, wanted))

    async def _taken(self, events: AsyncIterator[Event]) -> AsyncIterator[Event]:
        async for event in events:
            self.followed.append(event)
            yield event

    def claims(self, step_id: str, instance: str) -> set[str]:
        """The flows whose ``step_id`` the follower has seen ``instance`` claim."""
        return {
            event.data.flow_id
            for event in self.followed
            if isinstance(event.data, WorkStarted)
            and (event.data.step_id, event.data.instance) == (step_id, instance)
        }


async def test_survivor_takes_over_when_the_lease_lapses(tmp_path):
    """An instance on "another host" (no pid to check) is dead only when its lease lapses."""
    doomed = "elsewhere:1:doomed"
    store = f"sqlite:///{tmp_path / 'argyll.db'}"
    held = HeldService()
    async with open_store(store) as opened:
        watched = WatchedStore(opened)
        survivor = Engine(watched, lease_ttl=1.0, heartbeat_interval=0.1, instance_id="survivor")
        async with held.service, survivor:
            process = await start_worker(store, held, doomed, "1.0")
            try:
                assert doomed in await survivor.store.live_instances()
                await wait_until(
                    lambda: len(watched.claims("b", doomed)) == FLOWS,
                    f"the survivor following each flow's claim of b by {doomed}",
                )
                seen = watched.sweeps
                await wait_until(lambda: watched.sweeps > seen + 3, "three more sweeps")
                assert not watched.claims("b", "survivor"), "a live instance's work was taken"
                assert len(held.service.calls) == FLOWS
            finally:
                await kill(process)
            held.released.set()
            states = [await survivor.wait_flow(f"flow-{i}", timeout=20) for i in range(FLOWS)]
            logs = [await survivor.flow_events(f"flow-{i}") for i in range(FLOWS)]

    assert [s.status for s in states] == [FlowStatus.COMPLETED] * FLOWS
    assert held.tokens(slice(FLOWS, None)) == held.tokens(slice(None, FLOWS))
    check_each_item_succeeded_once(logs)
    for log in logs:
        claims = [e["data"]["instance"] for e in log if e["type"] == "work_started"]
        assert "survivor" in claims


async def test_a_scheduled_retry_survives_a_restart(tmp_path):
    store = f"sqlite:///{tmp_path / 'argyll.db'}"
    replies = iter([(503, {"detail": "later"}), (200, {"y": "second time"})])
    step = {
        "id": "flaky",
        "type": "sync",
        "attributes": {"y": {"role": "output"}},
        "http": {"endpoint": ""},
        "work_config": {"init_backoff": 300, "backoff_type": "fixed", "max_retries": 2},
    }
    async with StepService(lambda call: next(replies)) as service:
        step["http"]["endpoint"] = service.url
        async with Engine(store) as engine:
            await engine.register_step(step)
            seen = engine.events("")
            await engine.start_flow(["flaky"], flow_id="f")
            async with asyncio.timeout(10):
                async for event in seen:
                    if event.type == "work_retry_scheduled":
                        break
        async with Engine(store) as engine:
            state = await engine.wait_flow("f", timeout=10)
    assert state.status is FlowStatus.COMPLETED
    assert state.attributes["y"].value == "second time"
    assert len(service.calls) == 2


async def test_a_long_flow_is_read_back_from_its_snapshot(store_url):
    items = list(range(60))
    step = script_step(
        "each",
        "{:y (* x 2)}",
        requires=["x"],
        outputs=["y"],
        for_each=["x"],
        work_config={"parallelism": 8},
    )
    async with Engine(store_url) as engine:
        await engine.register_step(step)
        live = await engine.wait_flow(await engine.start_flow(["each"], {"x": items}), 20)
        assert live.version > 100
        snapshot = await engine.store.load_snapshot(flow_aggregate(live.id))
        assert snapshot is not None and 100 <= snapshot[0] <= live.version
        replayed = fold_flow(await engine.store.read(flow_aggregate(live.id)))
        assert await engine.get_flow(live.id) == replayed == live


async def test_a_predicate_its_engine_never_evaluated_is_taken_up_after_a_quiet_lease(tmp_path):
    """No event says a predicate is being evaluated: a flow quiet for a lease gets a new look."""
    from argyll.decide import Context, on_start
    from argyll.planner import plan
    from argyll.testing import catalog_of

    store = f"sqlite:///{tmp_path / 'argyll.db'}"
    step = script_step("gated", "{:ok true}", outputs=["ok"], predicate="true")
    flow_plan = plan(catalog_of(step), ["gated"], {})
    async with Engine(store) as first:
        await first.register_step(step)
        decision = on_start("orphan", flow_plan, {}, Context(first.clock.now(), lambda: "t"))
        await first.store.append("flow:orphan", 0, decision.events, first.clock.now())
    async with Engine(store, lease_ttl=0.2, heartbeat_interval=0.05) as engine:
        state = await engine.wait_flow("orphan", timeout=10)
    assert state.status is FlowStatus.COMPLETED
    assert state.attributes["ok"].value is True
