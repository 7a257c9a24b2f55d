"""The Explain tab: why each step of the selected flow is where it is, in plain words.

The page already holds the flow's state and events and the catalog, and
explaining is a pure function of them (``argyll.explain``), so the tab asks the
engine nothing: it redraws as the flow's events arrive.
"""

from __future__ import annotations

from typing import Any

from argyll.explain import describe, explain
from argyll.model import Catalog, FlowState
from argyll.ui.format import badge, escape
from argyll.ui.model import DashboardModel
from argyll.ui.views.panes import card, html_pane


def explain_html(flow: FlowState | None, events: list[Any], catalog: Catalog) -> str:
    """A table: each planned step, its status, its reason code and the reason in words."""
    if flow is None:
        return '<p class="muted">Select a flow to see why each of its steps is where it is.</p>'
    answer = explain(flow, events, catalog).to_dict()
    names = {step_id: step.name or step_id for step_id, step in flow.plan.steps.items()}
    rows = "".join(
        f"<tr><td>{escape(names.get(step_id, step_id))}</td><td>{badge(entry['status'])}</td>"
        f"<td><code>{escape(entry['reason'])}</code></td>"
        f"<td>{escape(describe(step_id, entry, names))}</td></tr>"
        for step_id, entry in answer["steps"].items()
    )
    left_out = "".join(
        f"<li><b>{escape(step_id)}</b>: {escape(describe(step_id, entry, names))}</li>"
        for step_id, entry in answer["not_in_plan"].items()
    )
    extra = f"<h4>Not in the plan</h4><ul>{left_out}</ul>" if left_out else ""
    return (
        f"<h3>Explain flow <code>{escape(flow.id)}</code> {badge(flow.status.value)}</h3>"
        '<table class="argyll-explain"><thead><tr><th>step</th><th>status</th>'
        f"<th>reason</th><th>why</th></tr></thead><tbody>{rows}</tbody></table>{extra}"
    )


class ExplainView:
    """The selected flow's explanation, redrawn as its events arrive."""

    def __init__(self, model: DashboardModel) -> None:
        self.model = model
        self.body = html_pane(self._html(), sizing_mode="stretch_width")
        self.panel = card(self.body, sizing_mode="stretch_width", css_classes=["argyll-explain"])
        model.param.watch(self._redraw, ["flow", "flow_events", "catalog"])

    def _html(self) -> str:
        model = self.model
        return explain_html(model.flow, list(model.flow_events), model.catalog)

    def _redraw(self, *_: Any) -> None:
        self.body.object = self._html()
