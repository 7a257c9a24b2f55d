"""The page's URL names the selection: what a selection writes, what a URL selects."""

from __future__ import annotations

from panel.io.location import Location

from argyll.testing import catalog_of, script_step
from argyll.ui.model import DashboardModel
from argyll.ui.views.deep_link import DeepLink, link_search, selection_of
from argyll.ui.views.flow_detail import detail_html


def test_a_selection_is_written_as_a_query_and_read_back() -> None:
    assert link_search("", "") == ""
    assert link_search("f-1", "") == "?flow=f-1"
    assert link_search("f 1", "s&t") == "?flow=f+1&step=s%26t"
    assert selection_of({"flow": "f-1", "step": 1}) == ("f-1", "1")
    assert selection_of({}) == ("", "")


def test_a_url_selects_its_flow_and_step_and_the_selection_moves_the_url() -> None:
    catalog = catalog_of(script_step("seed", "{:a 1}", outputs=["a"]))
    model = DashboardModel(catalog=catalog)
    location = Location(search="?flow=f-1&step=seed")
    DeepLink(model, location)
    assert (model.selected_flow, model.selected_step, model.goals) == ("f-1", "seed", ["seed"])
    model.select_step(None)
    assert location.search == "?flow=f-1"
    model.selected_flow = ""
    assert location.search == ""


def test_a_link_to_a_flow_the_engine_lacks_says_so() -> None:
    model = DashboardModel()
    model.selected_flow = "gone"
    model.load_flow("elsewhere", [])
    model.flush()
    assert not model.flow_missing, "an answer for a flow no longer selected"
    model.load_flow("gone", [])
    model.flush()
    assert model.flow_missing
    assert "The engine has no flow <code>gone</code>" in detail_html(model)
    model.selected_flow = "other"
    assert not model.flow_missing
    assert "Loading flow <code>other</code>" in detail_html(model)
