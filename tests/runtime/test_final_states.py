"""Final states of ended flows kept in memory: bounded, and dropped once another writer goes on."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from argyll import Engine
from argyll.model import FlowID, FlowState, FlowStatus, Plan
from argyll.runtime import flows
from argyll.runtime.flows import FlowCache
from argyll.testing import script_step, wait_until

NOW = datetime(2026, 1, 1, tzinfo=UTC)
EMPTY_PLAN = Plan(goals=(), required=(), steps={}, attributes={})


def flow(ident: str, status: FlowStatus = FlowStatus.ACTIVE, version: int = 1) -> FlowState:
    return FlowState(FlowID(ident), EMPTY_PLAN, {}, NOW, status=status, version=version)


def test_an_ended_flow_keeps_its_final_state_until_a_later_event_is_seen() -> None:
    cache = FlowCache()
    ended = flow("a", FlowStatus.FAILED, version=5)
    cache.keep(ended)
    assert cache.final(FlowID("a")) is ended
    cache.outdated(FlowID("a"), 5)
    assert cache.final(FlowID("a")) is ended
    cache.outdated(FlowID("a"), 6)
    assert cache.final(FlowID("a")) is None
    assert cache.summary(FlowID("a")) is None


def test_a_flow_that_runs_again_here_leaves_the_ended_ones() -> None:
    cache = FlowCache()
    cache.keep(flow("a", FlowStatus.FAILED, version=5))
    retried = flow("a", FlowStatus.ACTIVE, version=6)
    cache.keep(retried)
    assert cache.final(FlowID("a")) is None
    assert cache.summary(FlowID("a")) is not None
    assert cache.summary(FlowID("a")).status is FlowStatus.ACTIVE  # type: ignore[union-attr]


def test_only_the_newest_final_states_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(flows, "FINAL_KEPT", 2)
    cache = FlowCache()
    for ident in ("a", "b", "c"):
        cache.keep(flow(ident, FlowStatus.COMPLETED))
    assert [cache.final(FlowID(i)) is not None for i in ("a", "b", "c")] == [False, True, True]
    assert all(cache.summary(FlowID(i)) is not None for i in ("a", "b", "c"))
    again = replace(flow("a", FlowStatus.COMPLETED), version=3)
    cache.keep(again)
    assert cache.final(FlowID("a")) is again


async def test_a_flow_retried_by_another_engine_is_not_read_from_an_old_end(
    tmp_path: Path,
) -> None:
    store = f"sqlite:///{tmp_path / 'argyll.db'}"
    broken = script_step("broken", '(raise "no such")', requires=["x"], outputs=["y"])
    async with Engine(store) as here, Engine(store) as there:
        await here.register_step(broken)
        flow_id = await here.start_flow(["broken"], {"x": 1})
        assert (await here.wait_flow(flow_id, 10)).status is FlowStatus.FAILED
        await wait_until(lambda: there.catalog.steps.get("broken"), "the step elsewhere")
        await there.retry_flow(flow_id, complete={"broken": {"y": 2}})
        assert (await there.wait_flow(flow_id, 10)).status is FlowStatus.COMPLETED

        async def completed_here() -> bool:
            return (await here.get_flow(flow_id)).status is FlowStatus.COMPLETED

        await wait_until(completed_here, "the retry to be seen here")
        assert (await here.flow_status(flow_id)).status is FlowStatus.COMPLETED
        assert (await here.wait_flow(flow_id, 10)).status is FlowStatus.COMPLETED
