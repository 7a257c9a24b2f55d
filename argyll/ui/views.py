"""Panel views over a ``DashboardModel``: graph, plan preview, flows, timeline, events, form.

``dashboard(engine)`` builds one page: its own model, the views bound to it,
and a ``Feed`` that keeps the model live. Views never poll: each watches the
model's parameters, and the feed flushes the model at most ten times a second
inside ``pn.io.hold`` so a flush reaches the browser as one message.
In Jupyter run ``pn.extension("tabulator")`` first, then show ``dashboard(engine)``.
"""

from __future__ import annotations

import asyncio
import html
import json
from collections.abc import Callable, Iterable, Mapping, MutableSet, Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import panel as pn
import param
from bokeh.document import Document
from bokeh.models import ColumnDataSource, FactorRange, HoverTool
from bokeh.models.widgets.tables import HTMLTemplateFormatter
from bokeh.plotting import figure

from argyll.errors import ArgyllError, ValidationError
from argyll.events import Event
from argyll.model import Execution, FlowState, FlowSummary
from argyll.ui.feed import EngineSource, Feed, Schedule, run_now
from argyll.ui.graph import ROLE_COLORS, STATUS_COLORS, Focus, StepGraph
from argyll.ui.model import (
    Bar,
    DashboardModel,
    attribute_rows,
    event_row,
    init_template,
    timeline,
)

FLOW_PAGE_SIZE = 12
JSON_FIELDS = ("labels", "attributes", "http", "script", "predicate", "work_config")
STEP_FIELDS = ("id", "name", "type", "version", *JSON_FIELDS)
WORK_COLORS = {
    "succeeded": STATUS_COLORS["completed"],
    "not_completed": "#f97316",
    "waiting": "#e2e8f0",
    "waited": "#e2e8f0",
    **STATUS_COLORS,
}

CSS = """
:host { --argyll-ink: #0f172a; --argyll-muted: #64748b; }
.argyll-header { display: flex; align-items: center; gap: 18px; font-family: sans-serif; }
.argyll-header h1 { font-size: 22px; margin: 0; color: var(--argyll-ink); }
.pill { display: inline-block; padding: 2px 10px; border-radius: 999px; font-size: 13px;
  background: #f1f5f9; color: #334155; margin-right: 6px; }
.status { padding: 1px 8px; border-radius: 999px; color: #fff; font-size: 12px; }
.status-active { background: #3b82f6; } .status-completed { background: #16a34a; }
.status-failed { background: #dc2626; } .status-pending { background: #94a3b8; }
.status-skipped { background: #a8a29e; }
.legend { font: 13px sans-serif; color: #334155; display: flex; flex-wrap: wrap; gap: 14px;
  align-items: center; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 3px;
  margin-right: 4px; vertical-align: -1px; }
.edge { display: inline-block; width: 26px; border-top: 2px solid #475569;
  margin-right: 4px; vertical-align: 3px; }
.edge.dashed { border-top-style: dashed; }
table.kv { border-collapse: collapse; font: 13px sans-serif; width: 100%; }
table.kv td, table.kv th { text-align: left; padding: 3px 6px; border-bottom: 1px solid #f1f5f9;
  vertical-align: top; }
table.kv td.value { font-family: monospace; word-break: break-all; }
.muted { color: #64748b; } .error { color: #b91c1c; font-size: 13px; }
.ok { color: #15803d; font-size: 13px; }
code { font-size: 12px; }
"""
TABLE_CSS = """
.status { padding: 1px 8px; border-radius: 999px; color: #fff; font-size: 12px; }
.status-active { background: #3b82f6; } .status-completed { background: #16a34a; }
.status-failed { background: #dc2626; }
"""


def escape(value: Any) -> str:
    return html.escape(str(value))


def badge(status: str) -> str:
    return f'<span class="status status-{escape(status)}">{escape(status)}</span>'


CARD_STYLES = {
    "background": "#ffffff",
    "border": "1px solid #e2e8f0",
    "border-radius": "10px",
    "box-shadow": "0 1px 2px rgba(15, 23, 42, 0.06)",
    "padding": "4px 8px",
}


def card(*objects: Any, **params: Any) -> pn.Column:
    return pn.Column(*objects, styles=CARD_STYLES, **params)


def html_pane(text: str, **params: Any) -> pn.pane.HTML:
    """An HTML pane that carries the dashboard's stylesheet into its shadow root."""
    return pn.pane.HTML(text, stylesheets=[CSS], **params)


def errors_html(problems: Iterable[tuple[str, str]]) -> str:
    items = "".join(f"<li><b>{escape(f)}</b>: {escape(r)}</li>" for f, r in problems)
    return f'<ul class="error">{items}</ul>' if items else ""


def problems_of(error: Exception) -> list[tuple[str, str]]:
    """The (field, reason) pairs of an engine error; other errors have one, under ``""``."""
    if isinstance(error, ValidationError):
        return error.problems
    return [("", str(error))]


def seconds_between(start: datetime, end: datetime | None) -> float:
    return round(((end or datetime.now(UTC)) - start).total_seconds(), 3)


def clock_text(moment: datetime) -> str:
    """Time of day in UTC with milliseconds, for events."""
    return moment.astimezone(UTC).strftime("%H:%M:%S.%f")[:-3]


def utc_text(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


# ------------------------------------------------------------------- graph


def legend_html() -> str:
    roles = "".join(
        f'<span><span class="swatch" style="background:{color}"></span>{role.value}</span>'
        for role, color in ROLE_COLORS.items()
    )
    statuses = "".join(
        f'<span><span class="swatch" style="background:{color}"></span>{status}</span>'
        for status, color in STATUS_COLORS.items()
    )
    return (
        f'<div class="legend"><b>Roles</b>{roles}<b>Inputs</b>'
        '<span><span class="edge"></span>required</span>'
        '<span><span class="edge dashed"></span>optional</span>'
        "<span>● required ○ optional ▸ output</span>"
        f"<b>In a flow</b>{statuses}</div>"
    )


class GraphView:
    """The step graph, its legend and the goal picker; recoloured as the model changes."""

    def __init__(self, model: DashboardModel) -> None:
        self.model = model
        self.graph = StepGraph(model.select_step)
        self.goals = pn.widgets.MultiChoice(
            label="Goals", options=[], placeholder="Pick goal steps, or click a card"
        )
        self.goals.param.watch(self._picked, "value")
        clear = pn.widgets.Button(label="Clear", color="light", width=80, align="end")
        clear.on_click(lambda *_: self._clear())
        self.chart = pn.pane.Bokeh(self.graph.figure, sizing_mode="stretch_width")
        self.panel = card(
            pn.Row(self.goals, clear),
            html_pane(legend_html(), sizing_mode="stretch_width"),
            self.chart,
            sizing_mode="stretch_width",
        )
        model.param.watch(self._catalog_changed, "catalog")
        model.param.watch(
            self._refocus, ["plan", "flow", "selected_flow", "selected_step", "goals"]
        )
        model.param.watch(lambda e: setattr(self.goals, "value", list(e.new)), "goals")
        self._catalog_changed()

    def _catalog_changed(self, *_: Any) -> None:
        self.graph.set_catalog(self.model.catalog)
        self.chart.height = self.graph.figure.height = self.graph.preferred_height()
        self.goals.options = sorted(self.model.catalog.steps)
        self._refocus()

    def _refocus(self, *_: Any) -> None:
        steps, statuses = self.model.focus()
        chosen = frozenset(steps) if steps is not None else None
        self.graph.set_focus(Focus(chosen, statuses, self.model.selected_step))

    def _picked(self, event: param.parameterized.Event) -> None:
        if list(event.new) != self.model.goals:
            self.model.param.update(goals=list(event.new), selected_flow="")

    def _clear(self) -> None:
        self.model.param.update(goals=[], selected_step="", selected_flow="")


# -------------------------------------------------------------------- plan


class PlanView:
    """Plan preview for the chosen goals: its steps, missing inputs, an init editor, Start.

    ``schedule`` runs what follows an engine call: after an ``await`` the page's
    document is no longer locked, and the graph's Bokeh sources need the lock.
    """

    def __init__(self, model: DashboardModel, engine: EngineSource, schedule: Schedule) -> None:
        self.model, self.engine, self.schedule = model, engine, schedule
        self.summary = html_pane(self._summary(), sizing_mode="stretch_width")
        self.init = pn.widgets.TextAreaInput(
            label="init (JSON)",
            css_classes=["argyll-init"],
            value="{}",
            height=150,
            sizing_mode="stretch_width",
            stylesheets=["textarea { font-family: monospace; font-size: 13px; }"],
        )
        self.init.param.watch(self._edited, "value_input")
        self.start = pn.widgets.Button(label="▶ Start flow", color="primary", disabled=True)
        self.start.on_click(self._start)
        self.message = html_pane("", sizing_mode="stretch_width")
        self._templated: tuple[str, ...] = ()
        self.panel = card(
            html_pane("<h3>Plan preview</h3>", margin=(0, 5)),
            self.summary,
            self.init,
            self.start,
            self.message,
            sizing_mode="stretch_width",
        )
        model.param.watch(self._plan_changed, ["plan", "plan_error", "required", "init"])

    def _summary(self) -> str:
        model, plan = self.model, self.model.plan
        if model.plan_error:
            return f'<p class="error">{escape(model.plan_error)}</p>'
        if plan is None:
            return '<p class="muted">Click a step card or pick goals to preview its plan.</p>'
        steps = ", ".join(f"<code>{escape(s)}</code>" for s in plan.steps)
        required = (
            ", ".join(
                f"<code>{escape(name)}</code> "
                + ('<span class="ok">✓</span>' if name in model.init else '<b class="error">✗</b>')
                for name in model.required
            )
            or '<span class="muted">none</span>'
        )
        return (
            f'<table class="kv"><tr><th>Goals</th><td>{escape(", ".join(plan.goals))}</td></tr>'
            f"<tr><th>Steps ({len(plan.steps)})</th><td>{steps}</td></tr>"
            f'<tr><th>Required</th><td class="required">{required}</td></tr></table>'
        )

    def _plan_changed(self, *_: Any) -> None:
        plan = self.model.plan
        self.summary.object = self._summary()
        self.start.disabled = plan is None
        if plan is not None and plan.goals != self._templated:
            self._templated = plan.goals
            filled = init_template(self.model.catalog, self.model.required, self.model.init)
            self.init.value = self.init.value_input = json.dumps(filled, indent=2)
            self.message.object = ""

    def _parsed_init(self) -> dict[str, Any]:
        try:
            value = json.loads(self.init.value_input or "{}")
        except ValueError as exc:
            raise ValidationError([("init", f"not valid JSON: {exc}")]) from None
        if not isinstance(value, dict):
            raise ValidationError([("init", "must be a JSON object")])
        return value

    def _edited(self, *_: Any) -> None:
        try:
            init = self._parsed_init()
        except ValidationError as exc:
            self.message.object = errors_html(exc.problems)
            return
        self.message.object = ""
        if init != self.model.init:
            self.model.init = init

    async def _start(self, _: Any) -> None:
        goals = list(self.model.goals)
        try:
            flow_id = await self.engine.start_flow(goals, self._parsed_init())
        except ArgyllError as exc:
            self.message.object = errors_html(problems_of(exc))
            return
        self.schedule(lambda: self._started(flow_id))

    def _started(self, flow_id: str) -> None:
        self.message.object = f'<p class="ok">Started flow <code>{escape(flow_id)}</code></p>'
        self.model.param.update(selected_flow=flow_id, selected_step="")


# ------------------------------------------------------------------- flows


def flow_frame(flows: Sequence[FlowSummary], status: str) -> pd.DataFrame:
    rows = [
        {
            "flow": summary.id,
            "status": summary.status.value,
            "started (UTC)": utc_text(summary.created_at),
            "duration (s)": seconds_between(summary.created_at, summary.completed_at),
            "error": summary.error or "",
        }
        for summary in flows
        if status == "all" or summary.status.value == status
    ]
    columns = ["flow", "status", "started (UTC)", "duration (s)", "error"]
    frame = pd.DataFrame(rows, columns=columns)
    frame.index = pd.Index(frame["flow"], name="id")
    return frame


class FlowsView:
    """The live flow table, filterable by status; a click selects the flow everywhere."""

    def __init__(self, model: DashboardModel) -> None:
        self.model = model
        self.filter = pn.widgets.RadioButtonGroup(
            options=["all", "active", "completed", "failed"], value="all", color="light"
        )
        self.table = pn.widgets.Tabulator(
            flow_frame([], "all"),
            pagination="remote",
            page_size=FLOW_PAGE_SIZE,
            show_index=False,
            disabled=True,
            selectable=1,
            sizing_mode="stretch_width",
            layout="fit_columns",
            formatters={"status": status_formatter()},
            widths={"flow": 300, "status": 110, "started (UTC)": 170, "duration (s)": 110},
            stylesheets=[TABLE_CSS],
        )
        self.table.param.watch(self._clicked, "selection")
        self.filter.param.watch(lambda *_: self._refresh(), "value")
        model.param.watch(lambda *_: self._refresh(), ["flows", "selected_flow"])
        self.panel = pn.Column(self.filter, self.table, sizing_mode="stretch_width")
        self._refresh()

    def _refresh(self) -> None:
        frame = flow_frame(self.model.flows, self.filter.value)
        self.table.value = frame
        selected = self.model.selected_flow
        self.table.selection = [frame.index.get_loc(selected)] if selected in frame.index else []

    def _clicked(self, event: param.parameterized.Event) -> None:
        frame = self.table.value
        if event.new and event.new[0] < len(frame):
            self.model.param.update(selected_flow=frame["flow"].iloc[event.new[0]], goals=[])


def status_formatter() -> HTMLTemplateFormatter:
    return HTMLTemplateFormatter(
        template='<span class="status status-<%= value %>"><%= value %></span>'
    )


# ------------------------------------------------------------- flow detail


def execution_html(step_id: str, execution: Execution) -> str:
    rows = [("status", badge(execution.status.value))]
    if execution.duration_ms is not None:
        rows.append(("duration", f"{execution.duration_ms} ms"))
    for label, value in (
        ("inputs", execution.inputs),
        ("outputs", execution.outputs),
        ("error", execution.error),
        ("reason", execution.reason),
    ):
        if value:
            rows.append((label, f'<span class="value">{escape(json.dumps(value))}</span>'))
    for token, item in execution.work_items.items():
        retries = f", {item.retry_count} retries" if item.retry_count else ""
        rows.append((f"item {escape(token[:8])}", f"{escape(item.status.value)}{retries}"))
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<h4>Step <code>{escape(step_id)}</code></h4><table class="kv">{body}</table>'


def flow_html(flow: FlowState | None, selected_flow: str, selected_step: str) -> str:
    if not selected_flow:
        return '<p class="muted">Select a flow in the table to follow it here.</p>'
    if flow is None:
        return f'<p class="muted">Loading flow <code>{escape(selected_flow)}</code>…</p>'
    facts = [
        ("status", badge(flow.status.value)),
        ("goals", escape(", ".join(flow.plan.goals))),
        ("started", utc_text(flow.created_at) + " UTC"),
        ("duration", f"{seconds_between(flow.created_at, flow.completed_at)} s"),
    ]
    if flow.error:
        facts.append(("error", f'<span class="error">{escape(flow.error)}</span>'))
    head = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in facts)
    attributes = "".join(
        f'<tr><td><code>{escape(row["name"])}</code></td><td class="value">{escape(row["value"])}'
        f'</td><td class="muted">{escape(row["from"])}</td></tr>'
        for row in attribute_rows(flow)
    )
    detail = ""
    if selected_step in flow.executions:
        detail = execution_html(selected_step, flow.executions[selected_step])
    return (
        f'<h3>Flow <code class="flow-id">{escape(flow.id)}</code></h3>'
        f'<table class="kv">{head}</table><h4>Attributes</h4>'
        f'<table class="kv attributes"><tr><th>name</th><th>value</th><th>from</th></tr>'
        f"{attributes}</table>{detail}"
    )


class FlowDetail:
    """The selected flow: status, attributes with provenance, the clicked step's execution."""

    def __init__(self, model: DashboardModel) -> None:
        self.model = model
        self.body = html_pane(self._html(), sizing_mode="stretch_width")
        self.panel = card(self.body, sizing_mode="stretch_width")
        model.param.watch(
            lambda *_: setattr(self.body, "object", self._html()),
            ["flow", "selected_flow", "selected_step"],
        )

    def _html(self) -> str:
        model = self.model
        return flow_html(model.flow, model.selected_flow, model.selected_step)


# ---------------------------------------------------------------- timeline


def timeline_data(bars: Sequence[Bar], origin: datetime, now: datetime) -> dict[str, list[Any]]:
    """Columns for the Gantt glyphs in ms since ``origin``; a bar still open runs to ``now``."""

    def ms(moment: datetime) -> float:
        return (moment - origin).total_seconds() * 1000

    return {
        "lane": [bar.lane for bar in bars],
        "start": [ms(bar.start) for bar in bars],
        "end": [max(ms(bar.end or now), ms(bar.start) + 2) for bar in bars],
        "color": [WORK_COLORS.get(bar.status, "#94a3b8") for bar in bars],
        "height": [0.7 if bar.kind == "step" else 0.45 for bar in bars],
        "label": [bar.label for bar in bars],
        "status": [bar.status for bar in bars],
        "kind": [bar.kind for bar in bars],
        "ms": [round(ms(bar.end or now) - ms(bar.start)) for bar in bars],
    }


class TimelineView:
    """A Gantt chart of the selected flow: steps, and under each its work item attempts."""

    def __init__(self, model: DashboardModel) -> None:
        self.model = model
        now = datetime.now(UTC)
        self.source = ColumnDataSource(timeline_data([], now, now), name="argyll-timeline-bars")
        self.figure = figure(
            name="argyll-timeline",
            x_axis_label="ms since the flow started",
            y_range=FactorRange(),
            height=380,
            sizing_mode="stretch_width",
            tools="xpan,xwheel_zoom,reset",
            toolbar_location="right",
            outline_line_color=None,
        )
        bars = self.figure.hbar(
            y="lane",
            left="start",
            right="end",
            height="height",
            color="color",
            source=self.source,
        )
        self.figure.add_tools(
            HoverTool(
                renderers=[bars],
                tooltips=[
                    ("", "@lane"),
                    ("", "@kind @label"),
                    ("status", "@status"),
                    ("ms", "@ms"),
                ],
            )
        )
        self.figure.ygrid.visible = False
        self.hint = html_pane('<p class="muted">Select a flow to see its timeline.</p>')
        self.chart = pn.pane.Bokeh(self.figure, visible=False, sizing_mode="stretch_width")
        self.panel = pn.Column(self.hint, self.chart, sizing_mode="stretch_width")
        model.param.watch(lambda *_: self._redraw(), ["flow_events", "selected_flow"])

    def _redraw(self) -> None:
        events, flow = self.model.flow_events, self.model.flow
        bars = timeline(events)
        now = datetime.now(UTC) if flow is None or flow.completed_at is None else flow.completed_at
        origin = flow.created_at if flow is not None else now
        lanes = list(dict.fromkeys(bar.lane for bar in bars))
        self.figure.y_range.factors = lanes[::-1]
        self.figure.height = max(160, 26 * len(lanes) + 70)
        self.source.data = timeline_data(bars, origin, now)
        self.hint.visible, self.chart.visible = not bars, bool(bars)


# ------------------------------------------------------------------ events


def event_frame(events: Sequence[Event]) -> pd.DataFrame:
    rows = [event_row(event) | {"time": clock_text(event.timestamp)} for event in events]
    return pd.DataFrame(rows, columns=["seq", "type", "time", "data"])


def recent_frame(events: Sequence[Event]) -> pd.DataFrame:
    rows = [
        {
            "time": clock_text(event.timestamp),
            "aggregate": event.aggregate,
            "seq": event.seq,
            "type": event.type,
        }
        for event in events
    ]
    return pd.DataFrame(rows, columns=["time", "aggregate", "seq", "type"])


class EventLog:
    """The selected flow's raw events, appended to as they stream in."""

    def __init__(self, model: DashboardModel) -> None:
        self.model = model
        self.table = pn.widgets.Tabulator(
            event_frame([]),
            show_index=False,
            disabled=True,
            height=400,
            sizing_mode="stretch_width",
            layout="fit_columns",
            widths={"seq": 60, "type": 170, "time": 110},
        )
        self._shown: list[Event] = []
        self.panel = pn.Column(self.table, sizing_mode="stretch_width")
        model.param.watch(lambda *_: self._update(), "flow_events")

    def _update(self) -> None:
        events, shown = self.model.flow_events, self._shown
        if shown and len(events) > len(shown) and events[len(shown) - 1] is shown[-1]:
            new = event_frame(events[len(shown) :])
            new.index = range(len(shown), len(events))
            self.table.stream(new, follow=True)
        else:
            self.table.value = event_frame(events)
        self._shown = list(events)


class LiveFeed:
    """The newest events of the whole engine."""

    def __init__(self, model: DashboardModel) -> None:
        self.table = pn.widgets.Tabulator(
            recent_frame([]),
            show_index=False,
            disabled=True,
            pagination="local",
            page_size=15,
            sizing_mode="stretch_width",
            layout="fit_columns",
        )
        self.panel = self.table
        model.param.watch(lambda e: setattr(self.table, "value", recent_frame(e.new)), "recent")


# -------------------------------------------------------------------- form


def field_of(problem_field: str) -> str:
    """The form field a problem belongs to (``attributes.x.type`` -> ``attributes``)."""
    head = problem_field.split(".", 1)[0]
    return head if head in STEP_FIELDS else ""


class StepForm:
    """Register or edit a step; the engine's validation problems appear under each field."""

    def __init__(self, model: DashboardModel, engine: EngineSource, schedule: Schedule) -> None:
        self.model, self.engine, self.schedule = model, engine, schedule
        self.picker = pn.widgets.Select(label="Edit", options=["(new step)"], width=260)
        self.picker.param.watch(self._pick, "value")
        self.fields = self._fields()
        self.errors = {name: html_pane("", margin=(0, 10)) for name in (*STEP_FIELDS, "")}
        register = pn.widgets.Button(label="Register", color="primary")
        update = pn.widgets.Button(label="Update", color="warning")
        register.on_click(self._register)
        update.on_click(self._update)
        grid = pn.GridBox(
            *(
                pn.Column(self.fields[n], self.errors[n], css_classes=[f"argyll-field-{n}"])
                for n in STEP_FIELDS
            ),
            ncols=2,
            sizing_mode="stretch_width",
        )
        self.panel = pn.Column(
            pn.Row(self.picker, register, update),
            self.errors[""],
            grid,
            sizing_mode="stretch_width",
            stylesheets=[CSS],
        )
        model.param.watch(self._catalog_changed, "catalog")
        self._catalog_changed()

    def _fields(self) -> dict[str, Any]:
        mono = ["textarea { font-family: monospace; font-size: 12px; }"]
        fields: dict[str, Any] = {
            "id": pn.widgets.TextInput(label="id"),
            "name": pn.widgets.TextInput(label="name"),
            "type": pn.widgets.Select(label="type", options=["sync", "async", "script"]),
            "version": pn.widgets.TextInput(label="version"),
        }
        for name in JSON_FIELDS:
            fields[name] = pn.widgets.TextAreaInput(
                label=f"{name} (JSON)", height=120, sizing_mode="stretch_width", stylesheets=mono
            )
        return fields

    def _catalog_changed(self, *_: Any) -> None:
        self.picker.options = ["(new step)", *sorted(self.model.catalog.steps)]

    def _pick(self, event: param.parameterized.Event) -> None:
        step = self.model.catalog.steps.get(event.new)
        definition = step.to_dict() if step is not None else {}
        for name, widget in self.fields.items():
            value = definition.get(name)
            if name in JSON_FIELDS:
                widget.value = json.dumps(value, indent=2) if value is not None else ""
            elif name == "type":
                widget.value = value or "sync"
            else:
                widget.value = value or ""
        self._show([])

    def definition(self) -> dict[str, Any]:
        """The form as a step definition; JSON that does not parse is a problem of its field."""
        out: dict[str, Any] = {}
        problems = []
        for name, widget in self.fields.items():
            text = (widget.value_input if hasattr(widget, "value_input") else widget.value) or ""
            if name not in JSON_FIELDS:
                if text:
                    out[name] = text
                continue
            if not text.strip():
                continue
            try:
                out[name] = json.loads(text)
            except ValueError as exc:
                problems.append((name, f"not valid JSON: {exc}"))
        if problems:
            raise ValidationError(problems)
        return out

    def _show(self, problems: Iterable[tuple[str, str]]) -> None:
        grouped: dict[str, list[tuple[str, str]]] = {name: [] for name in self.errors}
        for where, reason in problems:
            grouped[field_of(where)].append((where, reason))
        for name, pane in self.errors.items():
            pane.object = errors_html(grouped[name])

    async def _submit(self, action: Callable[[dict[str, Any]], Any], verb: str) -> None:
        try:
            definition = self.definition()
            step = await action(definition)
        except ArgyllError as exc:
            problems = problems_of(exc)
            self.schedule(lambda: self._show(problems))
            return
        self.schedule(lambda: self._done(f"{verb} step", step.id))

    def _done(self, what: str, step_id: str) -> None:
        self._show([])
        self.errors[""].object = f'<p class="ok">{what} <code>{escape(step_id)}</code></p>'

    async def _register(self, _: Any) -> None:
        await self._submit(self.engine.register_step, "Registered")

    async def _update(self, _: Any) -> None:
        step_id = self.fields["id"].value_input or ""
        await self._submit(lambda d: self.engine.update_step(step_id, d), "Updated")


# ------------------------------------------------------------------ header


def header_html(model: DashboardModel) -> str:
    counts: Mapping[str, int] = model.counts
    pills = "".join(
        f'<span class="pill">{escape(status)}: <b class="count-{escape(status)}">{count}</b></span>'
        for status, count in counts.items()
    )
    return (
        '<div class="argyll-header"><h1>Argyll</h1>'
        f'<span class="pill">steps: <b class="count-steps">{len(model.catalog.steps)}</b></span>'
        f'{pills}<span class="muted">live · {model.version} updates</span></div>'
    )


# --------------------------------------------------------------- dashboard


class Dashboard:
    """Every view of one page over one model."""

    def __init__(self, model: DashboardModel, engine: EngineSource, schedule: Schedule) -> None:
        self.model = model
        self.header = html_pane(header_html(model), sizing_mode="stretch_width")
        model.param.watch(
            lambda *_: setattr(self.header, "object", header_html(model)), ["version"]
        )
        graph = GraphView(model)
        tabs = pn.Tabs(
            ("Flows", FlowsView(model).panel),
            ("Timeline", TimelineView(model).panel),
            ("Event log", EventLog(model).panel),
            ("Live events", LiveFeed(model).panel),
            ("Register / edit step", StepForm(model, engine, schedule).panel),
            dynamic=True,
            sizing_mode="stretch_width",
            name="views",
        )
        side = pn.Column(
            PlanView(model, engine, schedule).panel,
            FlowDetail(model).panel,
            width=440,
            margin=(0, 5),
        )
        self.layout = pn.Column(
            self.header,
            graph.panel,
            pn.Row(tabs, side, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
            styles={"background": "#f1f5f9", "padding": "8px"},
        )

    def flush(self, doc: Document | None = None) -> None:
        """Publish the model's pending changes as one batch of browser messages."""
        if doc is None:
            self.model.flush()
            return
        with pn.io.hold(doc):
            self.model.flush()

    def push_to_notebook(self) -> None:
        """Outside a server, send what the views changed on their raw Bokeh models.

        Panel pushes its own widgets' changes; the graph and timeline patch Bokeh
        sources directly, which a notebook only sees after ``push_notebook``.
        Registered after every view, so it runs once they have all redrawn.
        """
        self.model.param.watch(
            lambda *_: pn.io.push_notebook(self.layout),
            ["catalog", "plan", "flow", "flow_events", "selected_flow", "selected_step", "goals"],
        )


def _scheduler(doc: Document | None) -> Schedule:
    """Run callbacks holding ``doc``'s lock (server), or right away (notebook, no server)."""
    if doc is None:
        return run_now
    return lambda callback: doc.add_next_tick_callback(callback)


def dashboard(
    engine: EngineSource, *, feeds: MutableSet[Feed] | None = None
) -> pn.viewable.Viewable:
    """The whole dashboard for ``engine``, live; show it in Jupyter or serve it.

    Args:
        engine: a started ``Engine`` (or anything with the ``EngineSource`` methods).
        feeds: where the page's feed is kept while it runs, so a server can stop it.
    """
    doc = pn.state.curdoc
    held = doc if doc is not None and doc.session_context is not None else None
    schedule = _scheduler(held)
    model = DashboardModel(catalog=engine.catalog)
    page = Dashboard(model, engine, schedule)
    if held is None:
        page.push_to_notebook()
    feed = Feed(engine, model, flush=lambda: page.flush(held), schedule=schedule)
    _run(feed, feeds)
    return page.layout


def _run(feed: Feed, feeds: MutableSet[Feed] | None) -> None:
    """Start the feed now if a loop runs, else once the page loads; stop it with the session."""
    if feeds is not None:
        feeds.add(feed)

    def start() -> None:
        feed.start()

    def stop(_: Any) -> None:
        if feeds is not None:
            feeds.discard(feed)
        asyncio.get_running_loop().create_task(feed.aclose())

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pn.state.onload(start)
    else:
        start()
    if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
        pn.state.on_session_destroyed(stop)
