"""The step graph panel: the graph, its legend and the goal picker, bound to the model."""

from __future__ import annotations

from typing import Any

import panel as pn
import param

from argyll.ui.format import legend_html
from argyll.ui.graph import Focus, StepGraph
from argyll.ui.model import DashboardModel
from argyll.ui.views.panes import card, html_pane


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
