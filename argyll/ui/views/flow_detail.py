"""The flow detail panel: the selected flow and the clicked step's execution."""

from __future__ import annotations

from argyll.ui.format import flow_html
from argyll.ui.model import DashboardModel
from argyll.ui.views.panes import card, html_pane


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
