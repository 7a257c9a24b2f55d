"""Pause and resume across engine restarts and instances sharing one store (SQLite, Redis)."""

from __future__ import annotations

import asyncio
import collections

import pytest
from test_operate import (
    PATTERN_SCAN,
    TOKEN,
    Service,
    after,
    http_step,
    of_type,
    recorded,
    script_children,
)
from test_recovery import (
    FLOWS,
    HeldService,
    WatchedStore,
    check_each_item_succeeded_once,
    kill,
    start_worker,
)

from argyll import Engine
from argyll.decide import Succeeded
from argyll.model import FlowStatus, StepStatus
from argyll.runtime import scripts
from argyll.store import open_store
from argyll.testing import script_step, wait_until

QUICK_LEASES = {"lease_ttl": 0.3, "heartbeat_interval": 0.05}
"""Leases that lapse fast: work a dead instance held is taken over within a third of a second."""


@pytest.fixture(params=["sqlite", "redis"])
def shared_store(request: pytest.FixtureRequest, tmp_path) -> str:
    """A store several engine processes can share."""
    if request.param == "redis":
        return str(request.getfixturevalue("redis_url"))
    return f"sqlite:///{tmp_path / 'argyll.db'}"


def between(log: list[dict], first: str, last: str) -> list[dict]:
    """The events after the first ``first`` and before the first ``last`` that follows it."""
    rest = after(log, first)
    end = next((n for n, event in enumerate(rest) if event["type"] == last), len(rest))
    return rest[:end]


async def test_a_paused_flow_stays_paused_through_a_kill_and_a_restart(shared_store: str):
    """Flows paused while their engine waits on step `b` (engine_process.py); then kill -9."""
    held = HeldService()
    ids = [f"flow-{i}" for i in range(FLOWS)]
    async with held.service:
        process = await start_worker(shared_store, held)
        try:
            async with Engine(shared_store) as operator:
                for flow_id in ids:
                    await operator.pause_flow(flow_id, "maintenance")
        finally:
            await kill(process)
        held.released.set()  # anything sent again would now be answered at once

        async with open_store(shared_store) as opened:
            watched = WatchedStore(opened)
            async with Engine(watched, **QUICK_LEASES) as engine:
                await wait_until(lambda: watched.sweeps > 20, "20 lease sweeps (over 3 leases)")
                paused = [await engine.get_flow(flow_id) for flow_id in ids]
                assert {state.status for state in paused} == {FlowStatus.PAUSED}
                assert len(held.service.calls) == FLOWS, "work started while paused"

                for flow_id in ids:
                    await engine.resume_flow(flow_id, "maintenance over")
                states = [await engine.wait_flow(flow_id, timeout=20) for flow_id in ids]
                logs = [await engine.flow_events(flow_id) for flow_id in ids]

    assert [state.status for state in states] == [FlowStatus.COMPLETED] * FLOWS
    assert [state.attributes["z"].value for state in states] == [(i + 1) * 20 for i in range(FLOWS)]
    assert held.tokens(slice(FLOWS, None)) == held.tokens(slice(None, FLOWS))
    check_each_item_succeeded_once(logs)
    for log in logs:
        assert not of_type(between(log, "flow_paused", "flow_resumed"), "work_started")
        started = collections.Counter(e["data"]["step_id"] for e in of_type(log, "step_started"))
        assert started == {"a": 1, "b": 1, "c": 1}


@pytest.mark.parametrize("first_stays", [True, False], ids=["A-alive", "A-gone"])
async def test_a_resume_at_instance_b_releases_the_work_instance_a_held(
    shared_store: str, first_stays: bool
):
    """A runs the flow and pauses it while `first` is out; B gets the resume and carries on.

    With A alive, A records `first`'s result while paused and nothing starts; with A
    gone (shut down mid-call), B takes A's item over under its token as soon as it resumes,
    not a lease (30 s) later.
    """
    release = asyncio.Event()
    service = Service(first=[release, (200, {"x": "1"})], second=[(200, {"y": "2"})])
    long_lease = {"lease_ttl": 30.0, "heartbeat_interval": 0.05}  # B must not wait for a lapse
    async with service.service, Engine(shared_store, **long_lease) as b:
        a = Engine(shared_store, **QUICK_LEASES)
        await a.start()
        try:
            await a.register_step(http_step("first", service.url, outputs=("x",)))
            await a.register_step(http_step("second", service.url, requires=("x",), outputs=("y",)))
            await wait_until(lambda: len(b.catalog.steps) == 2, "B following the catalog")
            await a.start_flow(["second"], flow_id="f")
            await wait_until(lambda: service.calls("first"), "first called by A")
            await a.pause_flow("f", "hold on")
            if first_stays:
                release.set()
                await wait_until(lambda: recorded(b, "f", "step_completed"), "first completed")
                assert service.calls("second") == [], "second started while paused"
            else:
                await a.aclose()
                release.set()
            resumed = await b.resume_flow("f", "go on")
            assert resumed.status is FlowStatus.ACTIVE
            done = await b.wait_flow("f", timeout=10)
            log = await b.flow_events("f")
        finally:
            await a.aclose()

    assert done.status is FlowStatus.COMPLETED
    assert done.attributes["y"].value == "2"
    assert done.executions["first"].status is StepStatus.COMPLETED
    assert len(service.calls("second")) == 1
    claims = [(e["data"]["step_id"], e["data"]["instance"]) for e in of_type(log, "work_started")]
    if first_stays:
        assert claims == [("first", a.instance_id), ("second", b.instance_id)]
        assert len(service.calls("first")) == 1
    else:
        expected = [("first", a.instance_id), ("first", b.instance_id), ("second", b.instance_id)]
        assert claims == expected
        tokens = {call.headers["Argyll-Receipt-Token"] for call in service.calls("first")}
        assert len(service.calls("first")) == 2 and len(tokens) == 1
    assert len(of_type(log, "work_succeeded")) == 2


@pytest.mark.parametrize("stop", ["pause", "cancel"])
async def test_a_late_result_wakes_none_of_a_dead_instances_work(shared_store: str, stop: str):
    """A paused or canceled flow whose engine is gone holds `pack`; `pay`'s webhook reaches B.

    B records it and takes nothing over; a resume then sends `pack` again, under its token.
    """
    release = asyncio.Event()
    service = Service(pay=[(202, {})], pack=[release, (200, {"packed": "yes"})])
    async with service.service, open_store(shared_store) as opened:
        watched = WatchedStore(opened)
        async with Engine(watched, **QUICK_LEASES) as b:
            a = Engine(shared_store, **QUICK_LEASES)
            await a.start()
            try:
                await a.register_step(
                    http_step("pay", service.url, outputs=("paid",), kind="async")
                )
                await a.register_step(http_step("pack", service.url, outputs=("packed",)))
                await wait_until(lambda: len(b.catalog.steps) == 2, "B following the catalog")
                await a.start_flow(["pay", "pack"], flow_id="f")
                await wait_until(
                    lambda: service.calls("pay") and service.calls("pack"), "both steps called"
                )
                await (a.pause_flow if stop == "pause" else a.cancel_flow)("f", "hold on")
            finally:
                await a.aclose()
            release.set()
            (pay,) = service.calls("pay")
            await b.complete_work("f", "pay", pay.headers[TOKEN], Succeeded({"paid": "yes"}))
            seen = watched.sweeps
            await wait_until(lambda: watched.sweeps > seen + 20, "20 lease sweeps (over 3 leases)")
            assert len(service.calls("pack")) == 1, f"pack sent again after the {stop}"
            log = await b.flow_events("f")
            since = after(log, {"pause": "flow_paused", "cancel": "flow_canceled"}[stop])
            assert of_type(since, "work_succeeded")
            assert not of_type(since, "work_started")
            if stop == "pause":
                await b.resume_flow("f")
                assert (await b.wait_flow("f", timeout=10)).status is FlowStatus.COMPLETED
                assert len({call.headers[TOKEN] for call in service.calls("pack")}) == 1
                assert len(service.calls("pack")) == 2


async def test_a_cancel_at_instance_b_stops_the_script_instance_a_runs(
    shared_store: str, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(scripts, "WALL_CLOCK_LIMIT", 120.0)  # only the cancel can end it
    scan = script_step("scan", PATTERN_SCAN, language="lua", requires=["s"], outputs=["found"])
    async with Engine(shared_store) as a, Engine(shared_store) as b:
        await a.register_step(scan)
        await a.start_flow(["scan"], {"s": "a" * 300}, flow_id="f")
        (child,) = await wait_until(script_children, "the script's child process")
        await b.cancel_flow("f", "not needed")
        await wait_until(lambda: child not in script_children(), "the child killed", timeout=5)
        assert (await a.wait_flow("f", timeout=5)).status is FlowStatus.CANCELED
