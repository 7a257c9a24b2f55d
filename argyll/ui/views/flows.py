"""The flows table: every flow, live, searchable and filterable; a click selects one."""

from __future__ import annotations

from datetime import UTC, datetime

import panel as pn
import param

from argyll.model import FlowStatus
from argyll.ui.format import flow_frame, zone_of
from argyll.ui.model import DashboardModel
from argyll.ui.progress import STARTED_WITHIN, FlowFilter, since_of
from argyll.ui.views.panes import TABLE_CSS, status_formatter, title_formatter

FLOW_PAGE_SIZE = 12
STATUSES = ["all", *(status.value for status in FlowStatus)]
COLUMN_WIDTHS: dict[str, str | int] = {
    "flow": "17%",
    "parent": "12%",
    "goals": "12%",
    "status": "11%",
    "progress": 72,
    "started": "12%",
    "duration (s)": 66,
}
"""Shares of the table's width, so the root cause (the rest) stays in view however wide the
page; the two short columns in pixels, so their titles are never cut to "s…"."""
WRAPPED = {"type": "textarea"}
"""Long text (flow ids, goals, errors) wraps in its cell instead of being cut.

A child flow's row names its parent flow (empty for flows started by a client)."""


class FlowsView:
    """The live flow table: search (id, goal), status and start-time filters; a click selects.

    It holds the newest flows the page read and every flow started since; "Older flows"
    reads the store's next page of older ones (shown while the store has more).

    Start times are shown in the viewer's time zone, as the browser reports it,
    with UTC in each cell's ``title``.
    """

    def __init__(self, model: DashboardModel) -> None:
        self.model = model
        self.search = pn.widgets.TextInput(
            placeholder="Search flow id or goal",
            width=260,
            css_classes=["argyll-flow-search"],
        )
        self.filter = pn.widgets.RadioButtonGroup(options=STATUSES, value="all", color="light")
        self.started = pn.widgets.Select(
            options=list(STARTED_WITHIN),
            value="any time",
            width=160,
            css_classes=["argyll-flow-started"],
        )
        self.browser = pn.state.browser_info
        self.table = pn.widgets.Tabulator(
            flow_frame([]),
            pagination="remote",
            page_size=FLOW_PAGE_SIZE,
            show_index=False,
            disabled=True,
            selectable=1,
            sizing_mode="stretch_width",
            layout="fit_columns",
            hidden_columns=["utc"],
            titles={
                "parent": "parent flow",
                "progress": "steps",
                "duration (s)": "secs",
                "error": "root cause / error",
            },
            formatters={
                "flow": WRAPPED,
                "parent": WRAPPED,
                "goals": WRAPPED,
                "status": status_formatter(),
                "started": title_formatter("utc"),
                "error": WRAPPED,
            },
            widths=COLUMN_WIDTHS,
            configuration={"columnDefaults": {"headerWordWrap": True}},
            stylesheets=[TABLE_CSS],
        )
        self.older = pn.widgets.Button(
            label="Older flows", visible=model.older is not None, css_classes=["argyll-older-flows"]
        )
        self.older.on_click(lambda _: model.param.trigger("older_wanted"))
        model.param.watch(lambda event: self._show_older(event.new), "older")
        self.table.param.watch(self._clicked, "selection")
        self.search.param.watch(lambda *_: self._refresh(), "value_input")
        for widget in (self.filter, self.started):
            widget.param.watch(lambda *_: self._refresh(), "value")
        if self.browser is not None:
            self.browser.param.watch(lambda *_: self._refresh(), "timezone")
        model.param.watch(lambda *_: self._refresh(), ["flows", "selected_flow", "progress"])
        self.panel = pn.Column(
            pn.Row(self.search, self.filter, self.started),
            self.table,
            self.older,
            sizing_mode="stretch_width",
        )
        self._refresh()

    def query(self) -> FlowFilter:
        """The filter the widgets set now."""
        since = since_of(self.started.value, datetime.now(UTC))
        return FlowFilter(self.search.value_input or "", self.filter.value, since)

    def _refresh(self) -> None:
        zone = zone_of(self.browser.timezone if self.browser is not None else None)
        frame = flow_frame(self.model.flows, self.model.progress, self.query(), zone)
        self.table.value = frame
        selected = self.model.selected_flow
        self.table.selection = [frame.index.get_loc(selected)] if selected in frame.index else []

    def _show_older(self, cursor: str | None) -> None:
        self.older.visible = cursor is not None

    def _clicked(self, event: param.parameterized.Event) -> None:
        """A row clicked selects its flow; the table showing the selection again changes nothing."""
        frame = self.table.value
        if not event.new or event.new[0] >= len(frame):
            return
        flow_id = frame["flow"].iloc[event.new[0]]
        if flow_id != self.model.selected_flow:
            self.model.param.update(selected_flow=flow_id, goals=[])
