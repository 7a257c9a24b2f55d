"""An engine decodes of the feed only what it needs (``argyll.runtime.follower``).

Two engines on one store (a memory store shared in process, a SQLite file, a Redis
prefix) still see each other's catalog changes and flows' ends; an engine that
holds no flows decodes only their signals, unless a listener wants everything.
Who decoded what is told by a context variable set for one engine's start (its
follower task inherits it) and read by a counting ``argyll.codec.decode``.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from argyll import Engine, codec
from argyll.events import Event, EventData
from argyll.model import FlowID, FlowState, FlowStatus, Plan
from argyll.runtime.flows import FlowCache
from argyll.runtime.follower import SIGNAL_TYPES, FeedFollower
from argyll.runtime.leases import OpenWork
from argyll.runtime.tasks import BackgroundTasks
from argyll.store import EventStore
from argyll.store.memory import MemoryEventStore
from argyll.testing import script_step, wait_until

HELLO = script_step("hello", '{:greeting "hi"}', outputs=["greeting"])
CATALOG_TYPES = {"step_registered", "step_updated", "step_unregistered", "step_health_changed"}
FLOWS = 20
EMPTY_PLAN = Plan(goals=(), required=(), steps={}, attributes={})

decoder: contextvars.ContextVar[str] = contextvars.ContextVar("decoder", default="busy")


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def shared(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str | EventStore]:
    """A store two engines share: one memory store object, or the URL of a file or prefix."""
    if request.param == "memory":
        async with MemoryEventStore() as store:
            yield store
    elif request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'argyll.db'}"
    else:
        yield str(request.getfixturevalue("redis_url"))


@pytest.fixture
def decoded(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """(who, type) of every event decoded from here on."""
    seen: list[tuple[str, str]] = []
    decode = codec.decode

    def counting(event_type: str, *args: Any) -> EventData:
        seen.append((decoder.get(), event_type))
        return decode(event_type, *args)

    monkeypatch.setattr(codec, "decode", counting)
    return seen


async def start_as(engine: Engine, who: str) -> None:
    """Start ``engine`` so that what its follower decodes is counted as ``who``'s."""
    context = contextvars.copy_context()
    context.run(decoder.set, who)
    await asyncio.create_task(engine.start(), context=context)


def ends_seen_by(engine: Engine) -> list[str]:
    """The flows whose end ``engine``'s follower has handed on, growing as it does."""
    ended: list[str] = []

    def completed(aggregate: str, event_type: str) -> bool:
        return event_type == "flow_completed"

    engine.on_event(lambda event: ended.append(event.aggregate.removeprefix("flow:")), completed)
    return ended


async def run_flows(engine: Engine, count: int) -> list[str]:
    flow_ids = [await engine.start_flow(["hello"]) for _ in range(count)]
    for flow_id in flow_ids:
        assert (await engine.wait_flow(flow_id, timeout=10)).status is FlowStatus.COMPLETED
    return flow_ids


async def test_engines_on_one_store_see_each_others_steps_and_ends(
    shared: str | EventStore,
) -> None:
    async with Engine(shared) as busy, Engine(shared) as idle:
        ended = ends_seen_by(idle)
        await busy.register_step(HELLO)
        await wait_until(lambda: "hello" in idle.catalog.steps, "the step seen by the other")
        flow_id = await busy.start_flow(["hello"], flow_id="watched")
        waited = await idle.wait_flow(flow_id, timeout=10)  # the idle engine holds nothing
        more = await run_flows(busy, 3)
        await wait_until(lambda: ended == [flow_id, *more], "four ends handed to the listener")
    assert waited.status is FlowStatus.COMPLETED
    assert waited.attributes["greeting"].value == "hi"


@pytest.mark.parametrize("shared", ["sqlite", "redis"], indirect=True)
async def test_an_engine_holding_no_flows_decodes_only_their_signals(
    shared: str, decoded: list[tuple[str, str]]
) -> None:
    busy, idle = Engine(shared), Engine(shared)
    await start_as(busy, "busy")
    await start_as(idle, "idle")
    ended = ends_seen_by(idle)
    try:
        await busy.register_step(HELLO)
        flow_ids = await run_flows(busy, FLOWS)
        await wait_until(lambda: ended == flow_ids, "the idle engine past the last flow")
    finally:
        await idle.aclose()
        await busy.aclose()
    types = [event_type for who, event_type in decoded if who == "idle"]
    assert set(types) <= SIGNAL_TYPES | CATALOG_TYPES
    assert types.count("work_started") == FLOWS  # it follows who holds what
    assert "step_started" not in types and "attribute_set" not in types


@pytest.mark.parametrize("shared", ["sqlite", "redis"], indirect=True)
async def test_a_listener_that_wants_everything_has_it_decoded_until_undone(
    shared: str, decoded: list[tuple[str, str]]
) -> None:
    busy, idle = Engine(shared), Engine(shared)
    await start_as(busy, "busy")
    await start_as(idle, "idle")
    seen: list[Event] = []
    ended = ends_seen_by(idle)
    try:
        await busy.register_step(HELLO)
        undo = idle.on_event(seen.append)
        (first,) = await run_flows(busy, 1)
        await wait_until(lambda: ended == [first], "the first flow's end")
        undo()
        (second,) = await run_flows(busy, 1)
        await wait_until(lambda: ended == [first, second], "the second flow's end")
    finally:
        await idle.aclose()
        await busy.aclose()
    by_flow = {
        flow_id: [event.type for event in seen if event.aggregate == f"flow:{flow_id}"]
        for flow_id in (first, second)
    }
    assert "step_started" in by_flow[first] and by_flow[second] == []
    idle_types = [event_type for who, event_type in decoded if who == "idle"]
    assert idle_types.count("step_started") == 1  # the first flow's, for the listener


TASKS = BackgroundTasks()


def held(flow_id: str, status: FlowStatus = FlowStatus.ACTIVE) -> FlowState:
    return FlowState(FlowID(flow_id), EMPTY_PLAN, {}, datetime.now(UTC), status=status, version=3)


async def no_refresh() -> None:
    """The catalog needs no refresh in these tests."""


async def no_read(flow_id: FlowID) -> FlowState:
    raise AssertionError(f"no flow is read back here, asked for {flow_id}")


async def test_the_follower_wants_signals_its_flows_and_what_listeners_ask_for() -> None:
    cache = FlowCache()
    follower = FeedFollower(
        cache, OpenWork(), cache.keep, lambda: 0, no_refresh, lambda _: None, no_read, TASKS
    )
    wants = follower.wants
    cache.keep(held("held"))
    cache.keep(held("ended", FlowStatus.COMPLETED))
    signals = ["flow_started", "work_started", "work_succeeded", "flow_completed", "flow_canceled"]

    assert all(wants("flow:other", event_type) for event_type in signals)
    assert wants("catalog", "step_registered")
    assert not wants("flow:other", "step_started") and not wants("flow:other", "attribute_set")
    assert wants("flow:held", "step_started") and wants("flow:ended", "attribute_set")
    with cache.waiting(FlowID("awaited")):
        assert wants("flow:awaited", "step_completed")
    assert not wants("flow:awaited", "step_completed")

    undo_some = follower.listen(lambda _: None, lambda aggregate, _: aggregate == "flow:x")
    assert wants("flow:x", "step_started") and not wants("flow:y", "step_started")
    undo_all = follower.listen(lambda _: None)
    assert wants("flow:y", "step_started")
    undo_all()
    undo_some()
    assert not wants("flow:x", "step_started")
