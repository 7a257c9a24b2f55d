"""A flow's progress, root cause and skipped goals, folded from its events; the flows filter."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from argyll import Engine
from argyll.events import Event, flow_aggregate
from argyll.model import FlowID, FlowStatus, FlowSummary
from argyll.testing import script_step, wait_until
from argyll.ui.feed import Feed
from argyll.ui.model import DashboardModel
from argyll.ui.progress import FlowFilter, FlowProgress, RootCause, advance, fold_progress, since_of

CHAIN = [
    script_step("seed", "{:a 1}", outputs=["a"]),
    script_step("double", "{:b (* a 2)}", requires=["a"], outputs=["b"]),
    script_step("broken", "{:c (/ b 0)}", requires=["b"], outputs=["c"]),
    script_step("after", "{:d c}", requires=["c"], outputs=["d"]),
    script_step("guarded", "{:g a}", requires=["a", "n"], outputs=["g"], predicate="(> n 0)"),
]
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def engine() -> AsyncIterator[Engine]:
    async with Engine("memory://") as running:
        for definition in CHAIN:
            await running.register_step(definition)
        yield running


async def run(engine: Engine, goal: str, init: dict | None = None) -> list[Event]:
    flow_id = await engine.start_flow([goal], init or {})
    await engine.wait_flow(flow_id, timeout=5)
    return await engine.store.read(flow_aggregate(flow_id))


async def test_a_completed_flow_ended_every_planned_step(engine: Engine) -> None:
    progress = fold_progress(await run(engine, "double"))
    assert progress is not None
    assert progress.goals == ("double",) and progress.text() == "2 / 2"
    assert progress.root_cause is None and progress.skips is None


async def test_the_root_cause_is_the_first_step_that_failed_not_the_goal(engine: Engine) -> None:
    events = await run(engine, "after")
    progress = fold_progress(events)
    assert progress is not None and progress.root_cause is not None
    assert progress.root_cause.step_id == "broken"
    failed = [e.data for e in events if e.type == "step_failed"]
    assert progress.root_cause == RootCause(failed[0].step_id, failed[0].error)
    assert progress.planned == 4 and "broken" in progress.ended


async def test_a_skipped_goal_is_noted_with_its_reason(engine: Engine) -> None:
    progress = fold_progress(await run(engine, "guarded", {"n": 0}))
    assert progress is not None and progress.skips is not None
    assert progress.skips.every_goal and progress.skips.reasons["guarded"]


async def test_repeated_events_count_once_and_a_flow_unseen_from_its_start_is_unknown(
    engine: Engine,
) -> None:
    events = await run(engine, "double")
    once = fold_progress(events)
    assert fold_progress([*events, *events[1:]]) == once
    assert fold_progress(events[1:]) is None
    assert advance(None, events[-1]) is None


async def test_the_model_reads_back_progress_of_listed_flows_newest_first(engine: Engine) -> None:
    older = await run(engine, "double")
    newer = await run(engine, "after")
    model = DashboardModel(catalog=engine.catalog)
    model.load(engine.catalog, await engine.list_flows())
    newer_id, older_id = FlowID(newer[0].data.flow_id), FlowID(older[0].data.flow_id)
    model.flush()
    listed = [summary.id for summary in model.flows]
    assert set(listed) == {newer_id, older_id}
    assert [model.next_unknown(), model.next_unknown(), model.next_unknown()] == [*listed, None]
    model.load_progress(older_id, older)
    model.flush()
    assert model.progress[older_id].text() == "2 / 2" and newer_id not in model.progress


async def test_a_gap_or_a_listed_flow_seen_without_its_start_asks_for_a_read_back(
    engine: Engine,
) -> None:
    events = await run(engine, "double")
    flow_id = FlowID(events[0].data.flow_id)
    model = DashboardModel(catalog=engine.catalog)
    model.load(engine.catalog, [])
    for event in events[:2]:
        model.apply(event)
    assert model.next_unknown() is None, "followed from its start"
    model.apply(events[3])
    assert model.next_unknown() == flow_id, "a gap"

    listed = DashboardModel(catalog=engine.catalog)
    listed.load(engine.catalog, await engine.list_flows())
    assert listed.next_unknown() == flow_id and listed.next_unknown() is None
    listed.apply(events[-1])
    assert listed.next_unknown() == flow_id, "a live event of a flow listed before"


async def test_the_feed_fills_in_progress_of_flows_started_before_the_page(
    engine: Engine,
) -> None:
    before = await run(engine, "after")
    flow_id = FlowID(before[0].data.flow_id)
    model = DashboardModel(catalog=engine.catalog)
    feed = Feed(engine, model, interval=0.01)
    feed.start()
    try:
        await wait_until(lambda: flow_id in model.progress, "the progress read back")
    finally:
        await feed.aclose()
    cause = model.progress[flow_id].root_cause
    assert cause is not None and cause.step_id == "broken"


def test_the_filter_matches_id_or_goal_status_and_start() -> None:
    summary = FlowSummary(FlowID("ab12-order"), FlowStatus.FAILED, NOW - timedelta(hours=2))
    progress = FlowProgress(("Notification-Sender",), 3)
    assert FlowFilter("B12").keeps(summary, None)
    assert FlowFilter("sender").keeps(summary, progress)
    assert not FlowFilter("sender").keeps(summary, None)
    assert not FlowFilter("zzz").keeps(summary, progress)
    assert FlowFilter(status="failed").keeps(summary, progress)
    assert not FlowFilter(status="completed").keeps(summary, progress)
    assert FlowFilter(since=since_of("last 24 hours", NOW)).keeps(summary, progress)
    assert not FlowFilter(since=since_of("last hour", NOW)).keeps(summary, progress)
    assert since_of("any time", NOW) is None
