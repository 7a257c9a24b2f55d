"""The selection in the page's URL, ``/?flow=ID&step=ID``: shared links open it, reloads keep it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from panel.io.location import Location

from argyll.ui.model import DashboardModel


def link_search(flow: str, step: str) -> str:
    """The URL query naming a selection; empty when nothing is selected."""
    query = {name: value for name, value in (("flow", flow), ("step", step)) if value}
    return f"?{urlencode(query)}" if query else ""


def selection_of(query: Mapping[str, Any]) -> tuple[str, str]:
    """The flow and step a URL's query names (Panel decodes ``?step=1`` to a number)."""
    return str(query.get("flow") or ""), str(query.get("step") or "")


class DeepLink:
    """Keeps the browser's URL naming the selected flow and step, and selects what a URL names.

    Read once, when the page opens (before the feed starts, so it loads the
    flow); from then on the selection writes the URL.
    """

    def __init__(self, model: DashboardModel, location: Location) -> None:
        self.model, self.location = model, location
        flow, step = selection_of(location.query_params)
        if step:
            model.select_step(step)
        if flow:
            model.selected_flow = flow
        model.param.watch(self._write, ["selected_flow", "selected_step"])

    def _write(self, *_: object) -> None:
        search = link_search(self.model.selected_flow, self.model.selected_step)
        if search != self.location.search:
            self.location.search = search
