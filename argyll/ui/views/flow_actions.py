"""Operating the selected flow from the page: pause, resume, cancel, retry, a step by hand.

Only the actions the flow's status allows are offered. Each asks first: the
button arms a confirmation that names what will happen, and only *Confirm*
calls the engine, with the reason typed beside it (recorded with the event).
Completing a step by hand takes its outputs as JSON; the engine checks them
against the step's outputs and the page shows what it refused.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import panel as pn

from argyll.compensate import started
from argyll.errors import ArgyllError, ValidationError
from argyll.model import FlowState, FlowStatus
from argyll.ui.feed import EngineSource, Schedule
from argyll.ui.format import errors_html, escape, problems_of
from argyll.ui.model import DashboardModel
from argyll.ui.views.panes import card, html_pane


@dataclass(frozen=True, slots=True)
class Action:
    """One operation: its button, the question it asks, and what it says when done."""

    name: str
    label: str
    question: str
    done: str
    of_step: bool = False


ACTIONS = (
    Action(
        "pause", "⏸ Pause", "Pause flow {flow}? Nothing new starts until it is resumed.", "paused"
    ),
    Action("resume", "▶ Resume", "Resume flow {flow} where it stood?", "resumed"),
    Action("cancel", "✕ Cancel", "Cancel flow {flow}? Nothing more of it will run.", "canceled"),
    Action("retry", "↻ Retry", "Retry flow {flow}? What failed runs again.", "retried"),
    Action(
        "complete",
        "✓ Complete step",
        "Complete step {step} by hand with these outputs?",
        "completed by hand",
        of_step=True,
    ),
    Action("skip", "⤼ Skip step", "Skip step {step} by hand?", "skipped by hand", of_step=True),
)


def offered(flow: FlowState | None, step_id: str) -> list[str]:
    """The actions the flow's status (and the selected step's) allows, by name."""
    if flow is None:
        return []
    names = {
        FlowStatus.ACTIVE: ["pause", "cancel"],
        FlowStatus.PAUSED: ["resume", "cancel"],
        FlowStatus.FAILED: ["retry"],
        FlowStatus.CANCELED: ["retry"],
    }.get(flow.status, [])
    if started(flow):
        names = []  # its work is being undone, or was: the engine refuses a retry
    execution = flow.executions.get(step_id)  # type: ignore[call-overload]
    if execution is not None and not flow.status.ended and not execution.status.ended:
        names += ["complete", "skip"]
    return names


class FlowActions:
    """Buttons for the selected flow, a reason, outputs for a step completed by hand."""

    def __init__(self, model: DashboardModel, engine: EngineSource, schedule: Schedule) -> None:
        self.model, self.engine, self.schedule = model, engine, schedule
        self.buttons = {
            action.name: pn.widgets.Button(
                label=action.label, css_classes=[f"argyll-action-{action.name}"], visible=False
            )
            for action in ACTIONS
        }
        for action in ACTIONS:
            self.buttons[action.name].on_click(lambda _, a=action: self._arm(a))
        self.reason = pn.widgets.TextInput(
            placeholder="reason (recorded with the event)", css_classes=["argyll-reason"]
        )
        self.outputs = pn.widgets.TextAreaInput(
            label="outputs (JSON)",
            value="{}",
            height=80,
            visible=False,
            css_classes=["argyll-outputs"],
        )
        self.question = html_pane("", sizing_mode="stretch_width")
        self.confirm = pn.widgets.Button(
            label="Confirm", color="danger", visible=False, css_classes=["argyll-confirm"]
        )
        self.back = pn.widgets.Button(label="Back", visible=False, css_classes=["argyll-back"])
        self.confirm.on_click(self._confirmed)
        self.back.on_click(lambda _: self._disarm())
        self.message = html_pane("", sizing_mode="stretch_width")
        self._armed: Action | None = None
        self.panel = card(
            html_pane("<h3>Operate</h3>", margin=(0, 5)),
            pn.Row(*self.buttons.values()),
            self.reason,
            self.outputs,
            self.question,
            pn.Row(self.confirm, self.back),
            self.message,
            sizing_mode="stretch_width",
            css_classes=["argyll-operate"],
        )
        model.param.watch(self._refresh, ["flow", "selected_step"])
        self._refresh()

    def _refresh(self, *_: Any) -> None:
        names = offered(self.model.flow, self.model.selected_step)
        for name, button in self.buttons.items():
            button.visible = name in names
        self.panel.visible = bool(names) or bool(self.message.object)
        if self._armed is not None and self._armed.name not in names:
            self._disarm()

    def _arm(self, action: Action) -> None:
        self._armed = action
        flow, step = self.model.selected_flow, self.model.selected_step
        text = action.question.format(
            flow=f"<code>{escape(flow)}</code>", step=f"<code>{escape(step)}</code>"
        )
        self.question.object = f"<p>{text}</p>"
        self.outputs.visible = action.name == "complete"
        self.confirm.visible = self.back.visible = True
        self.message.object = ""

    def _disarm(self) -> None:
        self._armed = None
        self.question.object = ""
        self.outputs.visible = self.confirm.visible = self.back.visible = False

    async def _confirmed(self, _: Any) -> None:
        action = self._armed
        if action is None:
            return
        flow_id, step_id = self.model.selected_flow, self.model.selected_step
        try:
            await self._call(action, flow_id, step_id)()
        except ArgyllError as exc:
            self.message.object = errors_html(problems_of(exc))
            return
        self.schedule(lambda: self._done(action, step_id))

    def _call(self, action: Action, flow_id: str, step_id: str) -> Callable[[], Awaitable[object]]:
        reason = self.reason.value.strip() or None
        engine = self.engine
        calls: dict[str, Callable[[], Awaitable[object]]] = {
            "pause": lambda: engine.pause_flow(flow_id, reason),
            "resume": lambda: engine.resume_flow(flow_id, reason),
            "cancel": lambda: engine.cancel_flow(flow_id, reason),
            "retry": lambda: engine.retry_flow(flow_id, reason=reason),
            "complete": lambda: engine.complete_step(flow_id, step_id, self._outputs(), reason),
            "skip": lambda: engine.skip_step(flow_id, step_id, reason),
        }
        return calls[action.name]

    def _outputs(self) -> dict[str, Any]:
        try:
            value = json.loads(self.outputs.value_input or self.outputs.value or "{}")
        except ValueError as exc:
            raise ValidationError([("outputs", f"not valid JSON: {exc}")]) from None
        if not isinstance(value, dict):
            raise ValidationError([("outputs", "must be a JSON object")])
        return value

    def _done(self, action: Action, step_id: str) -> None:
        self._disarm()
        self.reason.value = ""
        what = f"step {_code(step_id)}: " if action.of_step else ""
        self.message.object = f'<p class="ok">{what}{escape(action.done)}</p>'


def _code(text: str) -> str:
    return f"<code>{escape(text)}</code>"
