"""The timeline panel: a Gantt chart of the selected flow's steps and work item attempts."""

from __future__ import annotations

from datetime import UTC, datetime

import panel as pn
from bokeh.models import ColumnDataSource, FactorRange, HoverTool
from bokeh.plotting import figure

from argyll.ui.format import timeline_data
from argyll.ui.model import DashboardModel, timeline
from argyll.ui.views.panes import html_pane


class TimelineView:
    """A Gantt chart of the selected flow: steps, and under each its work item attempts."""

    def __init__(self, model: DashboardModel) -> None:
        self.model = model
        now = datetime.now(UTC)
        self.source = ColumnDataSource(timeline_data([], now, now), name="argyll-timeline-bars")
        self.figure = figure(
            name="argyll-timeline",
            x_axis_label="ms since the flow started",
            y_range=FactorRange(),
            height=380,
            sizing_mode="stretch_width",
            tools="xpan,xwheel_zoom,reset",
            toolbar_location="right",
            outline_line_color=None,
        )
        bars = self.figure.hbar(
            y="lane",
            left="start",
            right="end",
            height="height",
            color="color",
            source=self.source,
        )
        self.figure.add_tools(
            HoverTool(
                renderers=[bars],
                tooltips=[
                    ("", "@lane"),
                    ("", "@kind @label"),
                    ("status", "@status"),
                    ("ms", "@ms"),
                ],
            )
        )
        self.figure.ygrid.visible = False
        self.hint = html_pane('<p class="muted">Select a flow to see its timeline.</p>')
        self.chart = pn.pane.Bokeh(self.figure, visible=False, sizing_mode="stretch_width")
        self.panel = pn.Column(self.hint, self.chart, sizing_mode="stretch_width")
        model.param.watch(lambda *_: self._redraw(), ["flow_events", "selected_flow"])

    def _redraw(self) -> None:
        events, flow = self.model.flow_events, self.model.flow
        bars = timeline(events)
        now = datetime.now(UTC) if flow is None or flow.completed_at is None else flow.completed_at
        origin = flow.created_at if flow is not None else now
        lanes = list(dict.fromkeys(bar.lane for bar in bars))
        self.figure.y_range.factors = lanes[::-1]
        self.figure.height = max(160, 26 * len(lanes) + 70)
        self.source.data = timeline_data(bars, origin, now)
        self.hint.visible, self.chart.visible = not bars, bool(bars)
