"""The engine's parts that need no store: the flow cache, the snapshot rule, background tasks."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from argyll.flow_index import summary_of
from argyll.model import FlowID, FlowState, FlowStatus, Plan
from argyll.runtime import flows
from argyll.runtime.flows import FlowCache
from argyll.runtime.snapshots import SNAPSHOT_EVERY, snapshot_due
from argyll.runtime.tasks import BackgroundTasks

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def flow(ident: str, status: FlowStatus = FlowStatus.ACTIVE, version: int = 1) -> FlowState:
    plan = Plan(goals=(), required=(), steps={}, attributes={})
    return FlowState(FlowID(ident), plan, {}, NOW, status=status, version=version)


def test_an_active_flow_is_cached_and_summarised() -> None:
    cache = FlowCache()
    state = flow("a")
    assert cache.keep(state) is True
    assert cache.get(FlowID("a")) is state
    assert cache.summary(FlowID("a")) == summary_of(state)
    cache.forget(FlowID("a"))
    assert (cache.get(FlowID("a")), cache.summary(FlowID("a"))) == (None, None)


async def test_an_ended_flow_leaves_the_cache_keeps_its_summary_and_wakes_waiters() -> None:
    cache = FlowCache()
    cache.keep(flow("a"))
    with cache.waiting(FlowID("a")) as waiter:
        assert cache.awaited(FlowID("a"))
        ended = replace(flow("a", FlowStatus.COMPLETED, version=2), completed_at=NOW)
        assert cache.keep(ended) is False
        assert await asyncio.wait_for(waiter, timeout=1) is ended
    assert cache.get(FlowID("a")) is None
    assert cache.summary(FlowID("a")) == summary_of(ended)
    assert not cache.awaited(FlowID("a"))


async def test_a_waiter_that_gives_up_is_withdrawn() -> None:
    cache = FlowCache()
    with cache.waiting(FlowID("a")), cache.waiting(FlowID("a")) as second:
        pass
    assert not cache.awaited(FlowID("a"))
    assert not second.done()


def test_only_the_newest_ended_summaries_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(flows, "ENDED_KEPT", 2)
    cache = FlowCache()
    for ident in ("a", "b", "c"):
        cache.keep(flow(ident, FlowStatus.FAILED))
    assert [cache.summary(FlowID(i)) is not None for i in ("a", "b", "c")] == [False, True, True]


@pytest.mark.parametrize(
    ("before", "after", "due"),
    [
        (0, 7, False),
        (SNAPSHOT_EVERY - 1, SNAPSHOT_EVERY, True),
        (SNAPSHOT_EVERY, SNAPSHOT_EVERY + 5, False),
        (SNAPSHOT_EVERY - 3, 3 * SNAPSHOT_EVERY, True),
    ],
)
def test_a_snapshot_is_due_when_an_append_crosses_a_multiple(
    before: int, after: int, due: bool
) -> None:
    assert snapshot_due(before, after) is due


async def test_background_failures_are_logged_and_close_cancels_the_rest(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tasks = BackgroundTasks()
    failed, cancelled = asyncio.Event(), asyncio.Event()

    async def fail() -> None:
        failed.set()
        raise RuntimeError("boom")

    async def wait_forever() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    caplog.set_level(logging.ERROR, logger="argyll.engine")
    tasks.spawn(fail())
    tasks.spawn(wait_forever())
    await asyncio.wait_for(failed.wait(), timeout=1)
    await asyncio.wait_for(tasks.cancel_all(), timeout=1)
    assert cancelled.is_set()
    assert "background work failed" in caplog.text
