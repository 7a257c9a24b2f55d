"""The plan preview panel: the chosen goals' plan, an init editor, and Start."""

from __future__ import annotations

import json
from typing import Any

import panel as pn

from argyll.errors import ArgyllError, ValidationError
from argyll.ui.feed import EngineSource, Schedule
from argyll.ui.format import errors_html, escape, plan_html, problems_of
from argyll.ui.model import DashboardModel, init_template, placeholders_in
from argyll.ui.views.panes import card, html_pane


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
        model = self.model
        return plan_html(model.plan, model.plan_error, model.required, model.init)

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
        given = {k: v for k, v in init.items() if k not in placeholders_in(init)}
        if given != self.model.init:
            self.model.init = given

    async def _start(self, _: Any) -> None:
        goals = list(self.model.goals)
        try:
            init = self._parsed_init()
            if left := placeholders_in(init):
                raise ValidationError([_placeholder_problem(name, init[name]) for name in left])
            flow_id = await self.engine.start_flow(goals, init)
        except ArgyllError as exc:
            self.message.object = errors_html(problems_of(exc))
            return
        self.schedule(lambda: self._started(flow_id))

    def _started(self, flow_id: str) -> None:
        self.message.object = f'<p class="ok">Started flow <code>{escape(flow_id)}</code></p>'
        self.model.param.update(selected_flow=flow_id, selected_step="")


def _placeholder_problem(name: str, placeholder: str) -> tuple[str, str]:
    return (f"init.{name}", f"still the placeholder {json.dumps(placeholder)}: give a real value")
