"""The step graph panel: the graph, its legend and the goal picker, bound to the model."""

from __future__ import annotations

from typing import Any

import panel as pn
import param

from argyll.ui.feed import Schedule, run_now
from argyll.ui.format import legend_html
from argyll.ui.graph import Focus, StepGraph
from argyll.ui.model import DashboardModel
from argyll.ui.views.panes import card, html_pane


class GraphView:
    """The step graph, its legend and the goal picker; recoloured as the model changes.

    ``schedule`` runs the recolouring holding the page's document lock: a change can
    come from a widget's event (an edited init replans), which Panel handles without
    the lock, and a Bokeh source can only be patched with it.
    """

    def __init__(self, model: DashboardModel, schedule: Schedule = run_now) -> None:
        self.model, self._schedule, self._recolour_due = model, schedule, False
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
        if not self._recolour_due:
            self._recolour_due = True
            self._schedule(self._recolour)

    def _recolour(self) -> None:
        self._recolour_due = False
        steps, statuses = self.model.focus()
        chosen = frozenset(steps) if steps is not None else None
        self.graph.set_focus(Focus(chosen, statuses, self.model.selected_step))

    def _picked(self, event: param.parameterized.Event) -> None:
        if list(event.new) != self.model.goals:
            self.model.param.update(goals=list(event.new), selected_flow="")

    def _clear(self) -> None:
        self.model.param.update(goals=[], selected_step="", selected_flow="")
