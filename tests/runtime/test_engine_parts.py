"""The engine's parts that need no store: the flow cache, the snapshot rule, background tasks,
the open work a takeover looks at."""

from __future__ import annotations

import asyncio
import base64
import logging
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from argyll.events import (
    Event,
    EventData,
    FlowCanceled,
    FlowPaused,
    FlowResumed,
    FlowStarted,
    WorkStarted,
    WorkSucceeded,
)
from argyll.flow_index import summary_of
from argyll.model import FlowID, FlowState, FlowStatus, Plan, StepID, Token
from argyll.runtime import flows
from argyll.runtime.engine import new_token
from argyll.runtime.flows import FlowCache
from argyll.runtime.leases import OpenWork
from argyll.runtime.snapshots import SNAPSHOT_EVERY, snapshot_due
from argyll.runtime.tasks import BackgroundTasks

NOW = datetime(2026, 1, 1, tzinfo=UTC)
EMPTY_PLAN = Plan(goals=(), required=(), steps={}, attributes={})


def flow(ident: str, status: FlowStatus = FlowStatus.ACTIVE, version: int = 1) -> FlowState:
    return FlowState(FlowID(ident), EMPTY_PLAN, {}, NOW, status=status, version=version)


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


class Feed:
    """Events of flow ``f`` handed to an ``OpenWork`` one by one, numbered in order."""

    def __init__(self) -> None:
        self.open_work, self.seq = OpenWork(), 0
        self.f = FlowID("f")

    def __call__(self, *events: EventData) -> set[FlowID]:
        """Observe ``events``; the flows a sweep by "me", with "gone" dead, would take over."""
        for data in events:
            self.seq += 1
            self.open_work.observe(Event("flow:f", self.seq, NOW, data))
        return set(self.open_work.orphaned("me", {"me"}, NOW, ttl=60))


def work(token: str, instance: str = "gone") -> WorkStarted:
    return WorkStarted(FlowID("f"), StepID("s"), Token(token), 0, instance)


def done(token: str) -> WorkSucceeded:
    return WorkSucceeded(FlowID("f"), StepID("s"), Token(token), {})


@pytest.mark.parametrize("stop", [FlowPaused(FlowID("f")), FlowCanceled(FlowID("f"))])
def test_a_late_result_in_a_paused_or_ended_flow_opens_nothing_to_take_over(
    stop: EventData,
) -> None:
    feed = Feed()
    assert feed(FlowStarted(feed.f, EMPTY_PLAN, {}), work("t1"), work("t2", "me")) == {feed.f}
    assert feed(stop) == set()
    assert feed(done("t2")) == set()


def test_a_resumed_flow_is_looked_at_once_whoever_holds_its_work() -> None:
    feed = Feed()
    feed(FlowStarted(feed.f, EMPTY_PLAN, {}), work("t1", "me"), FlowPaused(feed.f))
    assert feed(FlowResumed(feed.f)) == {feed.f}
    assert feed() == set()


def test_receipt_tokens_carry_at_least_128_random_bits() -> None:
    tokens = {new_token() for _ in range(1000)}
    assert len(tokens) == 1000
    assert all(len(base64.urlsafe_b64decode(t + "=" * (-len(t) % 4))) * 8 >= 128 for t in tokens)
