"""The flows table: every flow, live, filterable by status; a click selects one."""

from __future__ import annotations

import panel as pn
import param

from argyll.ui.format import flow_frame
from argyll.ui.model import DashboardModel
from argyll.ui.views.panes import TABLE_CSS, status_formatter

FLOW_PAGE_SIZE = 12


class FlowsView:
    """The live flow table, filterable by status; a click selects the flow everywhere."""

    def __init__(self, model: DashboardModel) -> None:
        self.model = model
        self.filter = pn.widgets.RadioButtonGroup(
            options=["all", "active", "completed", "failed"], value="all", color="light"
        )
        self.table = pn.widgets.Tabulator(
            flow_frame([], "all"),
            pagination="remote",
            page_size=FLOW_PAGE_SIZE,
            show_index=False,
            disabled=True,
            selectable=1,
            sizing_mode="stretch_width",
            layout="fit_columns",
            formatters={"status": status_formatter()},
            widths={"flow": 300, "status": 190, "started (UTC)": 170, "duration (s)": 110},
            stylesheets=[TABLE_CSS],
        )
        self.table.param.watch(self._clicked, "selection")
        self.filter.param.watch(lambda *_: self._refresh(), "value")
        model.param.watch(lambda *_: self._refresh(), ["flows", "selected_flow", "skipped_goals"])
        self.panel = pn.Column(self.filter, self.table, sizing_mode="stretch_width")
        self._refresh()

    def _refresh(self) -> None:
        frame = flow_frame(self.model.flows, self.filter.value, self.model.skipped_goals)
        self.table.value = frame
        selected = self.model.selected_flow
        self.table.selection = [frame.index.get_loc(selected)] if selected in frame.index else []

    def _clicked(self, event: param.parameterized.Event) -> None:
        frame = self.table.value
        if event.new and event.new[0] < len(frame):
            self.model.param.update(selected_flow=frame["flow"].iloc[event.new[0]], goals=[])
