"""The detail drawer beside the graph: the selected flow, the clicked step, their events.

Attributes, inputs, outputs, step definitions and event data are JSON
documents (``json_view``): folded or open, pretty-printed, each with Copy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from argyll.events import Event
from argyll.model import (
    Execution,
    FlowState,
    Step,
    StepID,
    StepType,
    Token,
    compensation_summary,
)
from argyll.subflow import child_flow_id
from argyll.ui.format import badge, escape, seconds_between, utc_text
from argyll.ui.model import DashboardModel
from argyll.ui.views.deep_link import link_search
from argyll.ui.views.json_view import JSON_CSS, DocumentsHTML, json_html
from argyll.ui.views.panes import CSS, card

MAX_EVENTS = 200
"""The newest events listed in the drawer; the Event log tab has them all."""


def _facts(rows: Sequence[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<table class="kv">{body}</table>'


def flow_facts(flow: FlowState) -> str:
    """The flow's id, status, goals, times and error."""
    facts = [
        ("status", badge(flow.status.value)),
        ("goals", escape(", ".join(flow.plan.goals))),
        ("started", utc_text(flow.created_at) + " UTC"),
        ("duration", f"{seconds_between(flow.created_at, flow.completed_at)} s"),
    ]
    if flow.labels:
        facts.append(("labels", escape(", ".join(f"{k}={v}" for k, v in flow.labels.items()))))
    if flow.parent is not None:
        link = flow_link(flow.parent.flow_id, flow.parent.step_id)
        facts.append(("parent", f"{link} (step <code>{escape(flow.parent.step_id)}</code>)"))
    if flow.error:
        facts.append(("error", f'<span class="fact-error">{escape(flow.error)}</span>'))
    facts += _compensation_facts(flow)
    return f'<h3>Flow <code class="flow-id">{escape(flow.id)}</code></h3>{_facts(facts)}'


def _compensation_facts(flow: FlowState) -> list[tuple[str, str]]:
    """How the flow's undoing stands, each compensation that failed, and when it settled."""
    facts = []
    summary = compensation_summary(flow)
    if summary is not None:
        done, failed, left = (summary[key] for key in ("compensated", "failed", "pending"))
        counts = f"{done} undone, {failed} failed, {left} left"
        facts.append(("compensation", f"{badge(_badge_status(summary['status']))} {counts}"))
        for failure in summary.get("failures", ()):
            text = f"{failure['step_id']}: {failure['error']}"
            facts.append(("not undone", f'<span class="fact-error">{escape(text)}</span>'))
    if flow.deactivated_at is not None:
        facts.append(("deactivated", utc_text(flow.deactivated_at) + " UTC"))
    return facts


def _badge_status(status: str) -> str:
    return "compensation_failed" if status == "failed" else status


def flow_attributes(flow: FlowState) -> str:
    """The flow's attributes as a document, and where each came from (folded)."""
    values = {name: attr.value for name, attr in sorted(flow.attributes.items())}
    sources = {name: attr.step or "init" for name, attr in sorted(flow.attributes.items())}
    html = json_html("attributes", values, key="flow/attributes") + json_html(
        "where each attribute came from", sources, key="flow/sources", open_depth=0
    )
    return html + _candidates(flow)


def _candidates(flow: FlowState) -> str:
    """Attributes more than one provider gave, each value with its step (folded)."""
    several = {
        name: [{"value": v.value, "step": v.step or "init"} for v in attr.values]
        for name, attr in sorted(flow.attributes.items())
        if attr.values
    }
    if not several:
        return ""
    return json_html("every value of each", several, key="flow/candidates", open_depth=0)


def flow_link(flow_id: str, step_id: str = "") -> str:
    """A link that opens a flow (and a step of it) in the dashboard: its deep link."""
    search = escape(link_search(flow_id, step_id))
    return f'<a class="flow-link" href="{search}"><code>{escape(flow_id)}</code></a>'


def child_links(flow: FlowState, step_id: str) -> list[tuple[str, str]]:
    """A sub-flow step's child flows, one per work item, each a link that opens it."""
    step = flow.plan.steps.get(StepID(step_id))
    if step is None or step.type is not StepType.FLOW:
        return []
    items = flow.executions[StepID(step_id)].work_items
    return [
        (
            f"child flow {escape(token[:8])}",
            flow_link(child_flow_id(flow.id, step.id, Token(token))),
        )
        for token in items
    ]


def execution_section(step_id: str, execution: Execution, flow: FlowState | None = None) -> str:
    """How the step ran in the flow: status, times, error, inputs and outputs, work items
    (and, for a sub-flow step, a link to each item's child flow)."""
    facts = [("status", badge(execution.status.value))]
    if execution.duration_ms is not None:
        facts.append(("duration", f"{execution.duration_ms} ms"))
    for label, value in (("error", execution.error), ("reason", execution.reason)):
        if value:
            facts.append((label, f'<span class="fact-error">{escape(value)}</span>'))
    if execution.unsatisfied:
        names = ", ".join(execution.unsatisfied)
        facts.append(("unsatisfied", f'<span class="fact-error">{escape(names)}</span>'))
    for token, item in execution.work_items.items():
        retries = f", {item.retry_count} retries" if item.retry_count else ""
        facts.append((f"item {escape(token[:8])}", f"{escape(item.status.value)}{retries}"))
    if flow is not None:
        facts += child_links(flow, step_id)
    return (
        _facts(facts)
        + json_html("inputs", execution.inputs or {}, key=f"step/{step_id}/inputs")
        + json_html("outputs", execution.outputs or {}, key=f"step/{step_id}/outputs")
    )


def events_section(events: Sequence[Event], step_id: str) -> str:
    """The newest events (of the step, if one is selected), each a folded document."""
    if step_id:
        events = [e for e in events if getattr(e.data, "step_id", None) == step_id]
    shown = events[-MAX_EVENTS:]
    more = f" (the newest {len(shown)} of {len(events)})" if len(events) > len(shown) else ""
    docs = "".join(
        json_html(
            f"#{event.seq} {event.type} · {utc_text(event.timestamp)}",
            event.to_dict(),
            key=f"event/{event.seq}",
            open_depth=0,
        )
        for event in reversed(shown)
    )
    whose = f"<code>{escape(step_id)}</code>" if step_id else "the flow"
    return f"<h4>Events of {whose}{more}</h4>{docs}"


def step_section(step: Step | None, step_id: str, flow: FlowState | None) -> str:
    head = f'<h4 data-reveal="">Step <code>{escape(step_id)}</code></h4>'
    execution = flow.executions.get(step_id) if flow is not None else None
    body = execution_section(step_id, execution, flow) if execution is not None else ""
    if flow is not None and execution is None:
        body = '<p class="muted">Not part of this flow.</p>'
    if step is not None:
        folded = 1 if flow is None else 0
        key = f"step/{step_id}/definition"
        body += json_html("definition", step.to_dict(), key=key, open_depth=folded)
    return head + body


def detail_html(model: DashboardModel) -> str:
    """Everything the drawer shows for the model's selection."""
    flow_id, step_id, flow = model.selected_flow, model.selected_step, model.flow
    step = model.catalog.steps.get(step_id) if step_id else None
    parts = []
    if flow_id and flow is None and model.flow_missing:
        parts.append(
            f'<p class="fact-error">The engine has no flow <code>{escape(flow_id)}</code> '
            "(a link to a flow of another store, or a typo).</p>"
        )
    elif flow_id and flow is None:
        parts.append(f'<p class="muted">Loading flow <code>{escape(flow_id)}</code>…</p>')
    elif flow is not None:
        parts.append(flow_facts(flow))
    if step_id:
        parts.append(step_section(step, step_id, flow))
    if flow is not None:
        parts += [flow_attributes(flow), events_section(model.flow_events, step_id)]
    if not parts:
        return (
            '<p class="muted">Select a flow in the table to follow it here, '
            "or a step (its card, or the list of steps) to see its definition.</p>"
        )
    return "".join(parts)


class FlowDetail:
    """The drawer: the selected flow, the clicked step's execution or definition, their events.

    ``above``: panels shown at the top of the drawer (the flow's Operate buttons).

    Selecting a flow or a step brings the step (else the drawer) into view;
    live updates do not.
    """

    def __init__(self, model: DashboardModel, *above: Any) -> None:
        self.model = model
        self.body = DocumentsHTML(
            object=detail_html(model),
            sizing_mode="stretch_width",
            stylesheets=[CSS, JSON_CSS],
            css_classes=["argyll-flow-detail"],
        )
        self.panel = card(*above, self.body, scroll=True)
        model.param.watch(self._redraw, ["flow", "flow_events", "catalog", "flow_missing"])
        model.param.watch(self._selected, ["selected_flow", "selected_step"])

    def _redraw(self, *_: object) -> None:
        self.body.object = detail_html(self.model)

    def _selected(self, *_: object) -> None:
        self._redraw()
        if self.model.selected_flow or self.model.selected_step:
            self.body.reveal += 1
