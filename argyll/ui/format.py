"""The dashboard's text: HTML fragments and table rows made from model values.

Pure functions (no Panel, no widgets), so each can be tested on its own; the
views in ``argyll.ui.views`` put what they return into panes and tables.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

from argyll.errors import ValidationError
from argyll.events import Event
from argyll.model import FlowStatus, FlowSummary, Plan
from argyll.ui.graph import ROLE_COLORS, STATUS_COLORS
from argyll.ui.model import Bar, DashboardModel, event_row
from argyll.ui.progress import EVERY_FLOW, FlowFilter, FlowProgress, GoalSkips

JSON_FIELDS = ("labels", "attributes", "http", "script", "predicate", "work_config")
STEP_FIELDS = ("id", "name", "type", "version", *JSON_FIELDS)
CONNECTION_TEXT = {
    "live": "live",
    "reconnecting": "reconnecting to the engine…",
    "lost": "connection lost · retrying",
}
WORK_COLORS = {
    "succeeded": STATUS_COLORS["completed"],
    "not_completed": "#f97316",
    "compensating": "#a855f7",
    "compensated": "#14b8a6",
    "compensation_failed": "#be123c",
    "waiting": "#e2e8f0",
    "waited": "#e2e8f0",
    **STATUS_COLORS,
}


def escape(value: Any) -> str:
    return html.escape(str(value))


def badge(status: str) -> str:
    return f'<span class="status status-{escape(status)}">{escape(status)}</span>'


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


def local_text(moment: datetime, zone: tzinfo) -> str:
    """Date and time in ``zone``, with the zone's abbreviation (``2026-12-01 07:45:02 EST``)."""
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")


def zone_of(name: str | None) -> tzinfo:
    """The time zone a browser reports by name (``Europe/Paris``); UTC if unknown or missing."""
    try:
        return ZoneInfo(name) if name else UTC
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


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


def plan_html(
    plan: Plan | None, plan_error: str, required: Sequence[str], init: Mapping[str, Any]
) -> str:
    """The plan preview: its goals, its steps, and each required input ticked if ``init`` has it."""
    if plan_error:
        return f'<p class="error">{escape(plan_error)}</p>'
    if plan is None:
        return '<p class="muted">Click a step card or pick goals to preview its plan.</p>'
    steps = ", ".join(f"<code>{escape(s)}</code>" for s in plan.steps)
    ticks = (
        ", ".join(
            f"<code>{escape(name)}</code> "
            + ('<span class="ok">✓</span>' if name in init else '<b class="error">✗</b>')
            for name in required
        )
        or '<span class="muted">none</span>'
    )
    return (
        f'<table class="kv"><tr><th>Goals</th><td>{escape(", ".join(plan.goals))}</td></tr>'
        f"<tr><th>Steps ({len(plan.steps)})</th><td>{steps}</td></tr>"
        f'<tr><th>Required</th><td class="required">{ticks}</td></tr>'
        f"{_children_rows(plan)}{_excluded_rows(plan)}</table>"
    )


_LEFT_OUT = {
    "missing": "Left out: inputs missing",
    "satisfied": "Left out: init has its outputs",
    "blocked": "Left out: blocked by init",
}


def _children_rows(plan: Plan) -> str:
    """Each sub-flow step's child plan: its goals and its steps."""
    return "".join(
        f"<tr><th>Sub-flow <code>{escape(step_id)}</code></th><td>"
        + ", ".join(f"<code>{escape(s)}</code>" for s in child.steps)
        + "</td></tr>"
        for step_id, child in plan.children.items()
    )


def _excluded_rows(plan: Plan) -> str:
    """The steps the goals reached but the plan left out, with the attribute names why."""
    rows = []
    for reason, steps in plan.excluded.to_dict().items():
        listed = ", ".join(
            f"<code>{escape(step_id)}</code> ({escape(', '.join(names))})"
            for step_id, names in steps.items()
        )
        rows.append(f"<tr><th>{_LEFT_OUT[reason]}</th><td>{listed}</td></tr>")
    return "".join(rows)


FLOW_COLUMNS = (
    "flow",
    "parent",
    "goals",
    "status",
    "progress",
    "started",
    "duration (s)",
    "error",
)
"""The flows table's columns; ``utc`` (a start's UTC time, shown on hover) is kept hidden."""


def flow_frame(
    flows: Sequence[FlowSummary],
    progress: Mapping[str, FlowProgress] = MappingProxyType({}),
    keep: FlowFilter = EVERY_FLOW,
    zone: tzinfo = UTC,
) -> pd.DataFrame:
    """The flows table: the rows ``keep`` keeps, with progress and the root cause of a failure.

    A completed flow that skipped its goals says so, and why. Start times are in
    ``zone`` (the viewer's), with UTC beside them for the hover.
    """
    rows = [
        _flow_row(summary, progress.get(summary.id), zone)
        for summary in flows
        if keep.keeps(summary, progress.get(summary.id))
    ]
    frame = pd.DataFrame(rows, columns=[*FLOW_COLUMNS, "utc"])
    frame.index = pd.Index(frame["flow"], name="id")
    return frame


def _flow_row(summary: FlowSummary, progress: FlowProgress | None, zone: tzinfo) -> dict[str, Any]:
    skips = progress.skips if progress is not None else None
    return {
        "flow": summary.id,
        "parent": summary.parent or "",
        "goals": ", ".join(progress.goals) if progress is not None else "",
        "status": _status_text(summary, skips),
        "progress": progress.text() if progress is not None else "",
        "started": local_text(summary.created_at, zone),
        "duration (s)": seconds_between(summary.created_at, summary.completed_at),
        "error": _cause_text(summary, progress) or _skips_text(skips),
        "utc": f"{utc_text(summary.created_at)} UTC",
    }


def _cause_text(summary: FlowSummary, progress: FlowProgress | None) -> str:
    """A failed flow's root cause (its first failed step and why), else the flow's own error."""
    if summary.status is FlowStatus.FAILED and progress is not None and progress.root_cause:
        return progress.root_cause.text()
    return summary.error or ""


def _status_text(summary: FlowSummary, skips: GoalSkips | None) -> str:
    if skips is None or summary.status is not FlowStatus.COMPLETED:
        return summary.status.value
    return f"completed · {'goals' if skips.every_goal else 'some goals'} skipped"


def _skips_text(skips: GoalSkips | None) -> str:
    if skips is None:
        return ""
    return "; ".join(f"goal {step} skipped: {why}" for step, why in skips.reasons.items())


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


def field_of(problem_field: str) -> str:
    """The form field a problem belongs to (``attributes.x.type`` -> ``attributes``)."""
    head = problem_field.split(".", 1)[0]
    return head if head in STEP_FIELDS else ""


def header_html(model: DashboardModel) -> str:
    counts: Mapping[str, int] = model.counts
    pills = "".join(
        f'<span class="pill">{escape(status)}: <b class="count-{escape(status)}">{count}</b></span>'
        for status, count in counts.items()
    )
    return (
        '<div class="argyll-header"><h1>Argyll</h1>'
        f'<span class="pill">steps: <b class="count-steps">{len(model.catalog.steps)}</b></span>'
        f'{pills}<span class="connection connection-{model.connection}">'
        f"{CONNECTION_TEXT[model.connection]} · {plural(model.version, 'update')}</span></div>"
    )


def plural(count: int, noun: str) -> str:
    """``1 update``, ``2 updates``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
