"""The dashboard's param model: engine events in, model state out; no browser, no Panel."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from argyll import Engine
from argyll.errors import ValidationError
from argyll.events import (
    CATALOG,
    Event,
    FlowStarted,
    MemoSource,
    StepCompleted,
    StepStarted,
    WorkNotCompleted,
    WorkRetryScheduled,
    WorkStarted,
    WorkSucceeded,
    flow_aggregate,
)
from argyll.model import FlowStatus, Plan, StepID, Token
from argyll.server.app import serve
from argyll.testing import FakeTimer, script_step, wait_until
from argyll.ui.feed import Feed, RemoteEngine, Throttle
from argyll.ui.model import (
    DashboardModel,
    StepRole,
    init_template,
    placeholders_in,
    step_role,
    timeline,
)

CHAIN = [
    script_step("seed", "{:a 1}", outputs=["a"]),
    script_step("double", "{:b (* a 2)}", requires=["a"], outputs=["b"]),
    script_step("add", "{:c (+ b n)}", requires=["b", "n"], outputs=["c"]),
    script_step("fail", "{:d (/ c 0)}", requires=["c"], outputs=["d"]),
]


@pytest.fixture
async def engine() -> AsyncIterator[Engine]:
    async with Engine("memory://") as running:
        for definition in CHAIN:
            await running.register_step(definition)
        yield running


async def catalog_events(engine: Engine) -> list[Event]:
    return await engine.store.read(CATALOG)


async def events_of(engine: Engine, flow_id: str) -> list[Event]:
    return await engine.store.read(flow_aggregate(flow_id))


async def run_flow(engine: Engine, goal: str, init: dict | None = None) -> str:
    flow_id = await engine.start_flow([goal], init or {})
    await engine.wait_flow(flow_id, timeout=5)
    return flow_id


def fed(events: list[Event], **params: object) -> DashboardModel:
    model = DashboardModel(**params)
    for event in events:
        model.apply(event)
    model.flush()
    return model


async def test_catalog_events_fold_into_steps_and_health(engine: Engine) -> None:
    model = fed(await catalog_events(engine))
    assert sorted(model.catalog.steps) == ["add", "double", "fail", "seed"]
    assert model.catalog == engine.catalog
    assert model.version == 1


async def test_nothing_pending_means_no_flush_and_no_version_bump(engine: Engine) -> None:
    model = fed(await catalog_events(engine))
    assert not model.pending
    assert model.flush() is False
    assert model.version == 1


async def test_catalog_events_already_in_the_snapshot_are_not_folded_twice(engine: Engine):
    model = DashboardModel()
    model.load(engine.catalog, [])
    for event in await catalog_events(engine):
        model.apply(event)
    model.flush()
    assert model.catalog is engine.catalog


async def test_roles_follow_required_inputs_and_consumers(engine: Engine) -> None:
    catalog = engine.catalog
    roles = {sid: step_role(catalog, step) for sid, step in catalog.steps.items()}
    assert roles == {
        "seed": StepRole.RESOLVER,
        "double": StepRole.PROCESSOR,
        "add": StepRole.PROCESSOR,
        "fail": StepRole.COLLECTOR,
    }


async def test_flow_events_make_the_flow_list_newest_first_with_counts(engine: Engine) -> None:
    done = await run_flow(engine, "add", {"n": 1})
    failed = await run_flow(engine, "fail", {"n": 1})
    everything = [e async for e in _all_events(engine)]
    model = fed(everything)
    # Newest first as the store lists them: by start time, ties (same ms) by id.
    assert [s.id for s in model.flows] == [f.id for f in await engine.list_flows()]
    statuses = {s.id: s.status for s in model.flows}
    assert statuses == {failed: FlowStatus.FAILED, done: FlowStatus.COMPLETED}
    assert model.counts == {"active": 0, "paused": 0, "completed": 1, "failed": 1, "canceled": 0}
    assert "fail" in (next(s for s in model.flows if s.id == failed).error or "")


async def test_a_selected_flow_folds_to_the_engines_state(engine: Engine) -> None:
    flow_id = await run_flow(engine, "add", {"n": 5})
    events = await events_of(engine, flow_id)
    model = DashboardModel()
    model.selected_flow = flow_id
    model.load_flow(flow_id, events[:3])
    for event in events:
        model.apply(event)
    model.flush()
    assert model.flow == await engine.get_flow(flow_id)
    assert [e.seq for e in model.flow_events] == list(range(1, len(events) + 1))
    assert not model.stale_flow


async def test_events_of_other_flows_leave_the_selection_alone(engine: Engine) -> None:
    chosen = await run_flow(engine, "double")
    other = await run_flow(engine, "add", {"n": 1})
    model = DashboardModel(selected_flow=chosen)
    model.load_flow(chosen, await events_of(engine, chosen))
    for event in await events_of(engine, other):
        model.apply(event)
    model.flush()
    assert model.flow is not None and model.flow.id == chosen


async def test_a_gap_in_the_selected_flow_marks_it_stale(engine: Engine) -> None:
    flow_id = await run_flow(engine, "add", {"n": 5})
    events = await events_of(engine, flow_id)
    model = DashboardModel(selected_flow=flow_id)
    model.load_flow(flow_id, events[:2])
    model.apply(events[4])
    assert model.stale_flow
    assert model.flow is None or model.flow.version == 2


async def test_changing_the_selection_forgets_the_previous_flow(engine: Engine) -> None:
    flow_id = await run_flow(engine, "double")
    model = DashboardModel(selected_flow=flow_id)
    model.load_flow(flow_id, await events_of(engine, flow_id))
    model.flush()
    model.selected_flow = "another"
    assert model.flow is None and model.flow_events == []
    model.load_flow(flow_id, await events_of(engine, flow_id))
    assert model.flush() is False


async def test_clicking_a_step_previews_exactly_the_engines_plan(engine: Engine) -> None:
    model = DashboardModel(catalog=engine.catalog)
    model.select_step("add")
    assert model.goals == ["add"]
    assert isinstance(model.plan, Plan)
    assert set(model.plan.steps) == set(engine.plan(["add"]).steps) == {"seed", "double", "add"}
    assert model.required == ["n"]
    focus, statuses = model.focus()
    assert focus == {"seed", "double", "add"} and statuses == {}


async def test_init_prunes_the_plan_but_required_inputs_stay_listed(engine: Engine) -> None:
    model = DashboardModel(catalog=engine.catalog, goals=["add"])
    model.init = {"b": 4, "n": 1}
    assert model.plan is not None and set(model.plan.steps) == {"add"}
    assert model.required == ["n"]


async def test_an_unknown_goal_is_a_plan_error_not_an_exception() -> None:
    model = DashboardModel(goals=["nope"])
    assert model.plan is None
    assert "nope" in model.plan_error


async def test_a_click_while_following_a_flow_picks_the_step_and_keeps_the_flow(
    engine: Engine,
) -> None:
    flow_id = await run_flow(engine, "add", {"n": 1})
    model = DashboardModel(catalog=engine.catalog, selected_flow=flow_id)
    model.load_flow(flow_id, await events_of(engine, flow_id))
    model.flush()
    model.select_step("double")
    assert model.goals == ["double"] and model.selected_step == "double"
    assert model.plan is not None and model.selected_flow == flow_id
    steps, statuses = model.focus()
    assert steps == {"seed", "double", "add"}
    assert set(statuses.values()) == {"completed"}
    model.select_step("double")
    assert model.goals == [] and model.selected_step == "" and model.selected_flow == flow_id


def test_timeline_shows_every_attempt_and_backoff_of_a_retried_item() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    flow, step, token = "f", StepID("pay"), Token("t1")

    def at(ms: int, seq: int, data: object) -> Event:
        return Event(flow_aggregate(flow), seq, start + timedelta(milliseconds=ms), data)

    events = [
        at(0, 1, FlowStarted(flow, Plan((step,), (), {}, {}), {})),
        at(1, 2, StepStarted(flow, step, {}, {token: {}})),
        at(2, 3, WorkStarted(flow, step, token)),
        at(10, 4, WorkNotCompleted(flow, step, token, "HTTP 503")),
        at(10, 5, WorkRetryScheduled(flow, step, token, 1, start + timedelta(milliseconds=60))),
        at(60, 6, WorkStarted(flow, step, token, 1)),
        at(70, 7, WorkSucceeded(flow, step, token, {})),
        at(71, 8, StepCompleted(flow, step, {})),
    ]
    bars = [(b.lane, b.kind, b.status, b.label) for b in timeline(events)]
    assert bars == [
        ("pay", "step", "completed", ""),
        ("pay · item 1", "attempt", "not_completed", "HTTP 503"),
        ("pay · item 1", "backoff", "waited", "retry 1 due"),
        ("pay · item 1", "attempt", "succeeded", "attempt 2"),
    ]


def test_timeline_names_the_flow_a_memo_hit_reused() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    flow, step, token = "f", StepID("rate"), Token("t1")
    events = [
        Event(flow_aggregate(flow), seq, start + timedelta(milliseconds=seq), data)
        for seq, data in enumerate(
            [
                FlowStarted(flow, Plan((step,), (), {}, {}), {}),
                StepStarted(flow, step, {}, {token: {}}),
                WorkStarted(flow, step, token),
                WorkSucceeded(flow, step, token, {"rate": 2}, MemoSource("earlier", 4)),
                StepCompleted(flow, step, {"rate": 2}),
            ],
            1,
        )
    ]

    bars = [(b.lane, b.status, b.label) for b in timeline(events)]

    assert bars == [("rate", "completed", "memo hit of flow earlier")]


async def test_a_step_run_once_gets_a_single_lane(engine: Engine) -> None:
    flow_id = await run_flow(engine, "double")
    bars = timeline(await events_of(engine, flow_id))
    assert [(b.lane, b.status) for b in bars] == [("seed", "completed"), ("double", "completed")]


def test_throttle_runs_once_per_interval_however_often_poked() -> None:
    timer = FakeTimer()
    runs: list[float] = []
    throttle = Throttle(lambda: runs.append(timer.time()), interval=0.25, timer=timer)
    for _ in range(3):
        for _ in range(100):
            throttle.poke()
        timer.advance(0.375)
    assert runs == [0.0, 0.375, 0.75]


def test_a_poke_soon_after_a_run_waits_out_the_interval() -> None:
    timer = FakeTimer()
    runs: list[float] = []
    throttle = Throttle(lambda: runs.append(timer.time()), interval=0.25, timer=timer)
    throttle.poke()
    timer.advance(0.125)
    for _ in range(100):
        throttle.poke()
    timer.advance(0.125 - 2**-10)
    assert runs == [0.0]
    timer.advance(2**-10)
    assert runs == [0.0, 0.25]


def test_a_cancelled_throttle_does_not_run() -> None:
    timer = FakeTimer()
    runs: list[float] = []
    throttle = Throttle(lambda: runs.append(timer.time()), interval=0.25, timer=timer)
    throttle.poke()
    throttle.cancel()
    timer.advance(1.0)
    assert runs == []


async def test_the_feed_keeps_the_model_live_with_bounded_redraws(engine: Engine) -> None:
    before = await run_flow(engine, "add", {"n": 1})
    model = DashboardModel()
    loop = asyncio.get_running_loop()
    flushed_at: list[float] = []

    def flush() -> None:
        flushed_at.append(loop.time())
        model.flush()

    feed = Feed(engine, model, flush=flush, interval=0.1)
    feed.start()
    try:
        await wait_until(lambda: any(s.id == before for s in model.flows), f"{before} listed")
        model.selected_flow = chosen = await engine.start_flow(["add"], {"n": 2})
        ids = [await engine.start_flow(["add"], {"n": i}) for i in range(100)]
        await wait_until(lambda: model.counts.get("completed") == 102, "102 completed flows")
        await wait_until(
            lambda: model.flow is not None and model.flow.status is FlowStatus.COMPLETED,
            "the selected flow completed",
        )
    finally:
        await feed.aclose()
    assert {s.id for s in model.flows} >= {before, chosen, *ids}
    expected = await engine.get_flow(chosen)
    assert model.flow is not None and model.flow.version == expected.version
    assert model.flow.attributes == expected.attributes
    assert {s: e.status for s, e in model.flow.executions.items()} == {
        s: e.status for s, e in expected.executions.items()
    }
    # At most one redraw per interval, on the loop's own clock (an alarm may ring 1 ns early).
    assert len(flushed_at) > 1
    assert min(b - a for a, b in itertools.pairwise(flushed_at)) >= 0.1 - 1e-3


async def test_a_remote_engine_feeds_the_model_over_rest_and_websocket(engine: Engine) -> None:
    before = await run_flow(engine, "add", {"n": 1})
    server = await serve(engine, port=0)
    remote = RemoteEngine(server.url)
    await remote.start()
    model = DashboardModel(catalog=remote.catalog)
    feed = Feed(remote, model, interval=0.02)
    feed.start()
    try:
        assert sorted(remote.catalog.steps) == sorted(engine.catalog.steps)
        await wait_until(lambda: [s.id for s in model.flows] == [before], f"{before} listed")
        model.selected_flow = flow_id = await remote.start_flow(["add"], {"n": 3})
        await wait_until(
            lambda: model.flow is not None and model.flow.status is FlowStatus.COMPLETED,
            "the selected flow completed",
        )
        with pytest.raises(ValidationError) as refused:
            await remote.register_step({"id": "bad id!", "type": "script"})
        await remote.register_step(script_step("late", "{:z 1}", outputs=["z"]))
        await wait_until(lambda: "late" in model.catalog.steps, "step 'late' in the catalog")
    finally:
        await feed.aclose()
        await remote.aclose()
        await server.aclose()
    assert model.flow is not None and model.flow.attributes["c"].value == 5
    assert model.counts["completed"] == 2 and flow_id in {s.id for s in model.flows}
    assert {field for field, _ in refused.value.problems} >= {"id", "script"}


async def _all_events(engine: Engine) -> AsyncIterator[Event]:
    for event in await engine.store.read_all(""):
        yield event


def test_required_inputs_get_marked_placeholders_that_count_as_missing() -> None:
    catalog = fed([]).catalog
    template = init_template(catalog, ["n", "b"], {"b": 4})
    assert template == {"b": 4, "n": "<n: any>"}
    assert placeholders_in(template) == ["n"]
    assert placeholders_in({"n": "<b: any>", "b": "<b: number>", "c": "<c>"}) == ["b"]


async def test_a_flow_whose_goal_was_skipped_is_noted_with_the_reason(engine: Engine) -> None:
    await engine.register_step(
        script_step("guarded", "{:g n}", requires=["n"], outputs=["g"], predicate="(> n 0)")
    )
    skipped = await run_flow(engine, "guarded", {"n": 0})
    ran = await run_flow(engine, "guarded", {"n": 1})
    events = [*await events_of(engine, skipped), *await events_of(engine, ran)]
    model = fed(events)
    assert set(model.skipped_goals) == {skipped}
    skips = model.skipped_goals[skipped]
    assert skips.goals == ("guarded",) and skips.every_goal
    assert list(skips.reasons) == ["guarded"] and skips.reasons["guarded"]
