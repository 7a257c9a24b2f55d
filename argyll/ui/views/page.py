"""One dashboard page: every view over one model, and the feed that keeps it live.

``dashboard(engine)`` builds the page. Views never poll: each watches the
model's parameters, and the feed flushes the model at most ten times a second,
holding the document's lock.
"""

from __future__ import annotations

import asyncio
from collections.abc import MutableSet, Sequence
from typing import Any

import panel as pn
from bokeh.document import Document

from argyll.access import OPEN, Scope, Token
from argyll.demo import Preset
from argyll.ui.feed import EngineSource, Feed, Schedule, run_now
from argyll.ui.format import header_html
from argyll.ui.model import DashboardModel
from argyll.ui.views.deep_link import DeepLink
from argyll.ui.views.events import EventLog, LiveFeed
from argyll.ui.views.explain_view import ExplainView
from argyll.ui.views.flow_actions import FlowActions
from argyll.ui.views.flow_detail import FlowDetail
from argyll.ui.views.flows import FlowsView
from argyll.ui.views.graph import GraphView
from argyll.ui.views.panes import CSS, HeaderHTML, card
from argyll.ui.views.plan import PlanView
from argyll.ui.views.presets import PresetsView
from argyll.ui.views.step_actions import StepActions
from argyll.ui.views.step_form import StepForm
from argyll.ui.views.step_list import StepList
from argyll.ui.views.tab_roles import TabRoles
from argyll.ui.views.theme import ThemeDesign, ThemeToggle, theme_plot, var
from argyll.ui.views.timeline import TimelineView

STEP_LIST_WIDTH = 230
DETAIL_WIDTH = 480
GRAPH_CHROME = 150
"""Pixels of the graph's card above its plot (goal picker, legend)."""


class Dashboard:
    """Every view of one page over one model.

    The graph sits between the list of steps (left) and the detail drawer
    (right), so what a click selects shows beside where it was clicked.
    """

    def __init__(
        self,
        model: DashboardModel,
        engine: EngineSource,
        schedule: Schedule,
        presets: Sequence[Preset] = (),
        caller: Token = OPEN,
    ) -> None:
        self.model = model
        self.header = HeaderHTML(
            object=header_html(model), sizing_mode="stretch_width", stylesheets=[CSS]
        )
        model.param.watch(
            lambda *_: setattr(self.header, "object", header_html(model)), ["version", "connection"]
        )
        self.theme = ThemeToggle(margin=(10, 10), align="center")
        self.graph = GraphView(model, schedule)
        self.timeline = TimelineView(model)
        runs, administers = caller.allows(Scope.RUN), caller.allows(Scope.ADMIN)
        views = [
            ("Flows", FlowsView(model).panel),
            ("Timeline", self.timeline.panel),
            ("Event log", EventLog(model).panel),
            ("Live events", LiveFeed(model).panel),
            ("Explain", ExplainView(model).panel),
        ]
        if administers:
            views.append(("Register / edit step", StepForm(model, engine, schedule).panel))
        tabs = pn.Tabs(
            *views,
            dynamic=True,
            sizing_mode="stretch_width",
            name="views",
            css_classes=["argyll-views"],
        )
        plan = PlanView(model, engine, schedule)
        plan.start.visible = runs
        side = pn.Column(plan.panel, width=440, margin=(0, 5))
        if administers:
            side.append(StepActions(model, engine, schedule).panel)
        if runs:
            side.append(PresetsView(model, engine, schedule, presets).panel)
        self.steps = card(StepList(model).panel, width=STEP_LIST_WIDTH, scroll=True)
        above = [FlowActions(model, engine, schedule).panel] if runs else []
        self.detail = FlowDetail(model, *above).panel
        self.detail.param.update(width=DETAIL_WIDTH, sizing_mode="fixed")
        self.layout = pn.Column(
            pn.Row(self.header, self.theme, sizing_mode="stretch_width"),
            pn.Row(
                self.steps,
                self.graph.panel,
                self.detail,
                sizing_mode="stretch_width",
            ),
            pn.Row(tabs, side, sizing_mode="stretch_width"),
            TabRoles(target="argyll-views", label="Dashboard views", margin=0),
            sizing_mode="stretch_width",
            design=ThemeDesign,
            styles={"background": var("page"), "padding": "8px"},
        )
        model.param.watch(lambda *_: self._fit(), "catalog")
        self.theme.param.watch(lambda e: self._themed(e.new), "theme")
        self._fit()

    def _fit(self) -> None:
        """The list and the drawer as tall as the graph's card; each scrolls inside."""
        height = self.graph.chart.height + GRAPH_CHROME
        self.steps.height = self.detail.height = height

    def _themed(self, theme: str) -> None:
        self.graph.graph.set_theme(theme)
        theme_plot(self.timeline.figure, theme)

    def flush(self, doc: Document | None = None) -> None:
        """Publish the model's pending changes (in the server, ``doc``'s lock is held).

        Not inside ``pn.io.hold``: held while the browser's connection was still being
        set up, a page was left showing its first state for good (a step registered a
        moment after the page opened never reached it).
        """
        self.model.flush()

    def push_to_notebook(self) -> None:
        """Outside a server, send what the views changed on their raw Bokeh models.

        Panel pushes its own widgets' changes; the graph and timeline patch Bokeh
        sources directly, which a notebook only sees after ``push_notebook``.
        Registered after every view, so it runs once they have all redrawn.
        """
        self.model.param.watch(
            lambda *_: pn.io.push_notebook(self.layout),
            ["catalog", "plan", "flow", "flow_events", "selected_flow", "selected_step", "goals"],
        )


def _scheduler(doc: Document | None) -> Schedule:
    """Run callbacks holding ``doc``'s lock (server), or right away (notebook, no server)."""
    if doc is None:
        return run_now
    return lambda callback: doc.add_next_tick_callback(callback)


def dashboard(
    engine: EngineSource,
    *,
    feeds: MutableSet[Feed] | None = None,
    presets: Sequence[Preset] = (),
    caller: Token = OPEN,
) -> pn.viewable.Viewable:
    """The whole dashboard for ``engine``, live; show it in Jupyter or serve it.

    Served, the page's URL names the selected flow and step (``/?flow=…&step=…``).

    Args:
        engine: a started ``Engine`` (or anything with the ``EngineSource`` methods).
        feeds: where the page's feed is kept while it runs, so a server can stop it.
        presets: flows to start in one click (``argyll.demo.DEMO_PRESETS``).
        caller: who opened the page: without ``run`` it has no controls that start or
            operate flows, without ``admin`` none that register, edit or delete steps.
    """
    doc = pn.state.curdoc
    held = doc if doc is not None and doc.session_context is not None else None
    schedule = _scheduler(held)
    if held is not None:
        pn.config.design = ThemeDesign
    model = DashboardModel(catalog=engine.catalog)
    page = Dashboard(model, engine, schedule, presets, caller)
    if held is None:
        page.push_to_notebook()
    elif pn.state.location is not None:
        DeepLink(model, pn.state.location)
    feed = Feed(engine, model, flush=lambda: page.flush(held), schedule=schedule)
    _run(feed, feeds)
    return page.layout


def _run(feed: Feed, feeds: MutableSet[Feed] | None) -> None:
    """Start the feed now if a loop runs, else once the page loads; stop it with the session."""
    if feeds is not None:
        feeds.add(feed)

    def start() -> None:
        feed.start()

    def stop(_: Any) -> None:
        if feeds is not None:
            feeds.discard(feed)
        asyncio.get_running_loop().create_task(feed.aclose())

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pn.state.onload(start)
    else:
        start()
    if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
        pn.state.on_session_destroyed(stop)
