"""What can be done to the clicked step: delete it, after a confirmation."""

from __future__ import annotations

from typing import Any

import panel as pn

from argyll.errors import ArgyllError
from argyll.ui.feed import EngineSource, Schedule
from argyll.ui.format import errors_html, escape, problems_of
from argyll.ui.model import DashboardModel
from argyll.ui.views.panes import card, html_pane

CONSEQUENCES = (
    '<p class="muted">The step leaves the catalog and the graph; flows already started '
    "keep their plans. New plans can no longer use it.</p>"
)


class StepActions:
    """The clicked step's actions: *Delete step…*, then *Confirm delete* (or *Cancel*).

    A deleted step leaves the catalog, so its card leaves the graph; flows that
    already planned it keep their plans.
    """

    def __init__(self, model: DashboardModel, engine: EngineSource, schedule: Schedule) -> None:
        self.model, self.engine, self.schedule = model, engine, schedule
        self.title = html_pane("", margin=(0, 5))
        self.delete = pn.widgets.Button(label="Delete step…", color="light")
        self.confirm = pn.widgets.Button(label="Confirm delete", color="danger", visible=False)
        self.cancel = pn.widgets.Button(label="Cancel", color="light", visible=False)
        self.message = html_pane("", sizing_mode="stretch_width")
        self.delete.on_click(lambda _: self._asking(True))
        self.cancel.on_click(lambda _: self._asking(False))
        self.confirm.on_click(self._delete)
        self.panel = card(
            self.title,
            pn.Row(self.delete, self.confirm, self.cancel),
            self.message,
            sizing_mode="stretch_width",
            css_classes=["argyll-step-actions"],
            visible=False,
        )
        model.param.watch(lambda *_: self._selected(), "selected_step")

    def _selected(self) -> None:
        step_id = self.model.selected_step
        self.title.object = f"<h3>Step <code>{escape(step_id)}</code></h3>"
        self.panel.visible = bool(step_id)
        self._asking(False)

    def _asking(self, asking: bool) -> None:
        """Show the confirmation, or go back to the single *Delete step…* button."""
        self.delete.visible = not asking
        self.confirm.visible = self.cancel.visible = asking
        if asking:
            step_id = self.model.selected_step
            self.confirm.label = f"Confirm delete {step_id}"
        self.message.object = CONSEQUENCES if asking else ""

    async def _delete(self, _: Any) -> None:
        step_id = self.model.selected_step
        try:
            await self.engine.unregister_step(step_id)
        except ArgyllError as exc:
            problems = problems_of(exc)
            self.schedule(lambda: setattr(self.message, "object", errors_html(problems)))
            return
        self.schedule(lambda: self._deleted(step_id))

    def _deleted(self, step_id: str) -> None:
        if self.model.selected_step == step_id:
            self.model.select_step(None)
        self.panel.visible = True
        self.title.object = ""
        self.delete.visible = self.confirm.visible = self.cancel.visible = False
        self.message.object = f'<p class="ok">Deleted step <code>{escape(step_id)}</code></p>'
