"""The dashboard's text, made from model values: HTML fragments and table rows; no Panel."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone

from argyll import Engine
from argyll.errors import ConflictError, ValidationError
from argyll.events import Event, StepStarted, flow_aggregate
from argyll.model import (
    FlowID,
    FlowState,
    FlowStatus,
    FlowSummary,
    StepID,
)
from argyll.planner import plan
from argyll.testing import catalog_of, script_step
from argyll.ui.format import (
    badge,
    clock_text,
    errors_html,
    event_frame,
    field_of,
    flow_frame,
    header_html,
    legend_html,
    local_text,
    plan_html,
    problems_of,
    recent_frame,
    seconds_between,
    timeline_data,
    utc_text,
    zone_of,
)
from argyll.ui.graph import ROLE_COLORS, STATUS_COLORS
from argyll.ui.model import Bar, DashboardModel
from argyll.ui.progress import FlowFilter, FlowProgress, RootCause

START = datetime(2026, 1, 1, 12, 3, 4, 567000, tzinfo=UTC)
STEPS = [
    script_step("seed", "{:a 1}", outputs=["a"]),
    script_step("add", "{:c (+ a n)}", requires=["a", "n"], outputs=["c"]),
    script_step("broken", "{:d (/ c 0)}", requires=["c"], outputs=["d"]),
]


async def ran(goal: str, init: dict) -> FlowState:
    async with Engine("memory://") as engine:
        for step in STEPS:
            await engine.register_step(step)
        return await engine.wait_flow(await engine.start_flow([goal], init), timeout=5)


def test_the_formatters_load_no_panel() -> None:
    check = "import sys, argyll.ui.format; assert 'panel' not in sys.modules, 'panel loaded'"
    subprocess.run([sys.executable, "-c", check], check=True, timeout=60)


def test_statuses_and_problems_are_escaped() -> None:
    assert badge("<x>") == '<span class="status status-&lt;x&gt;">&lt;x&gt;</span>'
    assert errors_html([("init", "not <JSON>")]) == (
        '<ul class="error"><li><b>init</b>: not &lt;JSON&gt;</li></ul>'
    )
    assert errors_html([]) == ""


def test_problems_of_keep_fields_and_put_other_errors_under_no_field() -> None:
    assert problems_of(ValidationError([("id", "bad"), ("type", "worse")])) == [
        ("id", "bad"),
        ("type", "worse"),
    ]
    assert problems_of(ConflictError("step 'a' exists")) == [("", "step 'a' exists")]


def test_times_are_shown_in_utc() -> None:
    elsewhere = START.astimezone(timezone(timedelta(hours=5)))
    assert clock_text(elsewhere) == "12:03:04.567"
    assert utc_text(elsewhere) == "2026-01-01 12:03:04"
    assert utc_text(None) == ""
    assert seconds_between(START, START + timedelta(milliseconds=1500)) == 1.5
    assert seconds_between(datetime.now(UTC) - timedelta(seconds=5), None) >= 5


def test_the_legend_shows_every_role_and_status_colour() -> None:
    legend = legend_html()
    for name, color in [*((r.value, c) for r, c in ROLE_COLORS.items()), *STATUS_COLORS.items()]:
        assert f'background:{color}"></span>{name}</span>' in legend


def test_the_plan_preview_ticks_the_required_inputs_init_has() -> None:
    catalog = catalog_of(*STEPS)
    preview = plan(catalog, ["add"], {})
    missing = plan_html(preview, "", ["n"], {})
    steps = ", ".join(f"<code>{step}</code>" for step in preview.steps)
    assert f"<tr><th>Steps (2)</th><td>{steps}</td></tr>" in missing
    assert '<td class="required"><code>n</code> <b class="error">✗</b></td>' in missing
    given = plan_html(preview, "", ["n"], {"n": 1})
    assert '<td class="required"><code>n</code> <span class="ok">✓</span></td>' in given
    assert '<span class="muted">none</span>' in plan_html(plan(catalog, ["seed"], {}), "", [], {})


def test_the_plan_preview_shows_sub_flows_and_what_it_left_out() -> None:
    catalog = catalog_of(
        script_step("double", "{:y (* x 2)}", requires=["x"], outputs=["y"]),
        {
            "id": "twice",
            "type": "flow",
            "flow": {"goals": ["double"]},
            "attributes": {"x": {"role": "required"}, "y": {"role": "output"}},
        },
        script_step("seed", "{:x 1}", outputs=["x"]),
        script_step("use", "{:z y}", requires=["y"], outputs=["z"]),
    )
    preview = plan_html(plan(catalog, ["use"], {"x": 3}), "", [], {"x": 3})
    assert "<tr><th>Sub-flow <code>twice</code></th><td><code>double</code></td></tr>" in preview
    assert "<th>Left out: init has its outputs</th><td><code>seed</code> (x)</td>" in preview


def test_the_plan_preview_shows_an_error_or_a_hint_instead() -> None:
    assert plan_html(None, "unknown goal <x>", [], {}) == (
        '<p class="error">unknown goal &lt;x&gt;</p>'
    )
    assert "Click a step card" in plan_html(None, "", [], {})


def test_the_flow_table_filters_by_status_and_is_indexed_by_flow() -> None:
    flows = [
        FlowSummary(FlowID("f2"), FlowStatus.FAILED, START, START + timedelta(seconds=2), "boom"),
        FlowSummary(FlowID("f1"), FlowStatus.COMPLETED, START, START + timedelta(seconds=1)),
    ]
    frame = flow_frame(flows)
    assert list(frame.columns) == [
        "flow",
        "parent",
        "goals",
        "status",
        "progress",
        "started",
        "duration (s)",
        "error",
        "utc",
    ]
    assert list(frame.index) == ["f2", "f1"]
    assert frame.loc["f2"].tolist() == [
        "f2",
        "",
        "",
        "failed",
        "",
        "2026-01-01 12:03:04 UTC",
        2.0,
        "boom",
        "2026-01-01 12:03:04 UTC",
    ]
    assert frame.loc["f1", "error"] == ""
    assert list(flow_frame(flows, keep=FlowFilter(status="failed")).index) == ["f2"]
    assert flow_frame(flows, keep=FlowFilter(status="active")).empty


def test_start_times_are_the_viewers_with_utc_beside_them() -> None:
    flows = [FlowSummary(FlowID("f1"), FlowStatus.ACTIVE, START)]
    frame = flow_frame(flows, zone=zone_of("America/New_York"))
    assert frame.loc["f1", "started"] == "2026-01-01 07:03:04 EST"
    assert frame.loc["f1", "utc"] == "2026-01-01 12:03:04 UTC"
    assert local_text(START, zone_of("Asia/Kolkata")) == "2026-01-01 17:33:04 IST"
    assert zone_of(None) is zone_of("no/such-zone") is zone_of("../etc") is UTC


def test_a_row_shows_goals_progress_and_the_root_cause_of_a_failure() -> None:
    done = START + timedelta(seconds=1)
    flows = [
        FlowSummary(FlowID("bad"), FlowStatus.FAILED, START, done, "goal step 'g' failed: x"),
        FlowSummary(FlowID("old"), FlowStatus.FAILED, START, done, "goal step 'g' failed: x"),
    ]
    cause = RootCause(StepID("deep"), "only 3 in stock")
    progress = {"bad": FlowProgress((StepID("g"),), 4, frozenset({StepID("deep")}), cause, {}, 7)}
    frame = flow_frame(flows, progress)
    assert frame.loc["bad", ["goals", "progress", "error"]].tolist() == [
        "g",
        "1 / 4",
        "deep: only 3 in stock",
    ]
    assert frame.loc["old", ["goals", "progress", "error"]].tolist() == [
        "",
        "",
        "goal step 'g' failed: x",
    ]


def test_a_completed_flow_that_skipped_its_goals_says_so_and_why() -> None:
    done = START + timedelta(seconds=1)
    flows = [
        FlowSummary(FlowID(f), FlowStatus.COMPLETED, START, done) for f in ("all", "some", "none")
    ]
    g, h = StepID("g"), StepID("h")
    progress = {
        "all": FlowProgress((g,), 1, frozenset({g}), None, {g: "predicate false"}),
        "some": FlowProgress((g, h), 2, frozenset({g, h}), None, {h: "no input"}),
        "none": FlowProgress((g,), 1, frozenset({g})),
    }
    frame = flow_frame(flows, progress, FlowFilter(status="completed"))
    assert frame["status"].tolist() == [
        "completed · goals skipped",
        "completed · some goals skipped",
        "completed",
    ]
    assert frame["error"].tolist() == [
        "goal g skipped: predicate false",
        "goal h skipped: no input",
        "",
    ]


def test_timeline_columns_are_ms_since_the_start_and_open_bars_run_to_now() -> None:
    at = [START + timedelta(milliseconds=ms) for ms in (0, 10, 40, 41)]
    bars = [
        Bar("pay", "pay", "step", "completed", at[0], at[2]),
        Bar("pay · item 1", "pay", "attempt", "not_completed", at[1], at[1], "HTTP 503"),
        Bar("pay · item 1", "pay", "backoff", "waiting", at[2], None, "retry 1 due"),
        Bar("pay · item 2", "pay", "attempt", "odd", at[3], at[3]),
    ]
    data = timeline_data(bars, START, START + timedelta(milliseconds=100))
    assert data["start"] == [0.0, 10.0, 40.0, 41.0]
    assert data["end"] == [40.0, 12.0, 100.0, 43.0]
    assert data["ms"] == [40, 0, 60, 0]
    assert data["color"] == [STATUS_COLORS["completed"], "#f97316", "#e2e8f0", "#94a3b8"]
    assert data["height"] == [0.7, 0.45, 0.45, 0.45]
    assert data["label"] == ["", "HTTP 503", "retry 1 due", ""]


def test_event_tables_show_the_time_of_day() -> None:
    event = Event(flow_aggregate("f"), 2, START, StepStarted(FlowID("f"), StepID("add"), {}, {}))
    rows = event_frame([event]).to_dict("records")
    assert rows == [
        {"seq": 2, "type": "step_started", "time": "12:03:04.567", "data": rows[0]["data"]}
    ]
    assert '"step_id": "add"' in rows[0]["data"] and "flow_id" not in rows[0]["data"]
    assert recent_frame([event]).to_dict("records") == [
        {"time": "12:03:04.567", "aggregate": "flow:f", "seq": 2, "type": "step_started"}
    ]
    assert list(event_frame([]).columns) == ["seq", "type", "time", "data"]


def test_a_problem_belongs_to_the_form_field_it_starts_with() -> None:
    assert field_of("attributes.x.type") == "attributes"
    assert field_of("id") == "id"
    assert field_of("http.endpoint") == "http"
    assert field_of("bogus") == ""
    assert field_of("") == ""


def test_the_header_counts_steps_and_flows_by_status() -> None:
    model = DashboardModel(catalog=catalog_of(*STEPS))
    model.param.update(counts={"active": 1, "completed": 4}, version=7)
    text = header_html(model)
    assert '<b class="count-steps">3</b>' in text
    assert '<span class="pill">active: <b class="count-active">1</b></span>' in text
    assert '<b class="count-completed">4</b>' in text
    assert "live · 7 updates" in text
    model.version = 1
    assert "live · 1 update<" in header_html(model)
