"""The event panels: the selected flow's log, and the whole engine's newest events."""

from __future__ import annotations

import panel as pn

from argyll.events import Event
from argyll.ui.format import event_frame, recent_frame
from argyll.ui.model import DashboardModel


class EventLog:
    """The selected flow's raw events, appended to as they stream in."""

    def __init__(self, model: DashboardModel) -> None:
        self.model = model
        self.table = pn.widgets.Tabulator(
            event_frame([]),
            show_index=False,
            disabled=True,
            height=400,
            sizing_mode="stretch_width",
            layout="fit_columns",
            widths={"seq": 60, "type": 170, "time": 110},
        )
        self._shown: list[Event] = []
        self.panel = pn.Column(self.table, sizing_mode="stretch_width")
        model.param.watch(lambda *_: self._update(), "flow_events")

    def _update(self) -> None:
        events, shown = self.model.flow_events, self._shown
        if shown and len(events) > len(shown) and events[len(shown) - 1] is shown[-1]:
            new = event_frame(events[len(shown) :])
            new.index = range(len(shown), len(events))
            self.table.stream(new, follow=True)
        else:
            self.table.value = event_frame(events)
        self._shown = list(events)


class LiveFeed:
    """The newest events of the whole engine."""

    def __init__(self, model: DashboardModel) -> None:
        self.table = pn.widgets.Tabulator(
            recent_frame([]),
            show_index=False,
            disabled=True,
            pagination="local",
            page_size=15,
            sizing_mode="stretch_width",
            layout="fit_columns",
        )
        self.panel = self.table
        model.param.watch(lambda e: setattr(self.table, "value", recent_frame(e.new)), "recent")
