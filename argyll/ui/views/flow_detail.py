"""The flow detail panel: the selected flow and the clicked step's execution."""

from __future__ import annotations

from argyll.ui.format import flow_html
from argyll.ui.model import DashboardModel
from argyll.ui.views.panes import CSS, ScrolledHTML, card


class FlowDetail:
    """The selected flow: status, attributes with provenance, the clicked step's execution.

    Selecting a flow or a step brings the panel into view; live updates do not.
    """

    def __init__(self, model: DashboardModel) -> None:
        self.model = model
        self.body = ScrolledHTML(
            object=self._html(),
            sizing_mode="stretch_width",
            stylesheets=[CSS],
            css_classes=["argyll-flow-detail"],
        )
        self.panel = card(self.body, sizing_mode="stretch_width")
        model.param.watch(self._redraw, ["flow", "flow_missing"])
        model.param.watch(self._selected, ["selected_flow", "selected_step"])

    def _redraw(self, *_: object) -> None:
        self.body.object = self._html()

    def _selected(self, *_: object) -> None:
        self._redraw()
        if self.model.selected_flow:
            self.body.reveal += 1

    def _html(self) -> str:
        model = self.model
        return flow_html(model.flow, model.selected_flow, model.selected_step, model.flow_missing)
