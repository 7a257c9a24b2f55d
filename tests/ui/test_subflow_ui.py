"""The dashboard's face of sub-flows, from model values: no browser, no Panel page.

A child's row in the flows table names its parent; the drawer of a sub-flow step links
to each item's child flow (its deep link), and a child's facts link back to the parent.
"""

from __future__ import annotations

from argyll import Engine
from argyll.model import FlowStatus, StepID, StepType
from argyll.subflow import child_flow_id
from argyll.testing import script_step
from argyll.ui.format import flow_frame
from argyll.ui.graph import TYPE_ICONS
from argyll.ui.views.deep_link import selection_of
from argyll.ui.views.flow_detail import flow_facts, step_section

DOUBLE = script_step("double", "{:y (* x 2)}", requires=["x"], outputs=["y"])
SUB = {
    "id": "sub",
    "type": "flow",
    "flow": {"goals": ["double"]},
    "attributes": {"x": {"role": "required"}, "y": {"role": "output"}},
}


async def test_the_table_names_a_childs_parent_and_the_drawers_link_both_ways():
    async with Engine() as engine:
        for step in (DOUBLE, SUB):
            await engine.register_step(step)
        await engine.start_flow(["sub"], {"x": 4}, flow_id="p")
        parent = await engine.wait_flow("p", timeout=10)
        (token,) = parent.executions[StepID("sub")].work_items
        child = await engine.get_flow(child_flow_id("p", "sub", token))
        summaries = await engine.list_flows()
        step = engine.get_step("sub")

    assert parent.status is FlowStatus.COMPLETED
    frame = flow_frame(summaries)
    assert frame.loc[child.id, "parent"] == "p"
    assert frame.loc["p", "parent"] == ""

    drawer = step_section(step, "sub", parent)
    assert f'href="?flow={child.id}"' in drawer
    assert selection_of({"flow": child.id}) == (child.id, "")

    facts = flow_facts(child)
    assert 'href="?flow=p&amp;step=sub"' in facts
    assert "parent" in facts


def test_a_sub_flow_step_has_its_own_card_icon():
    assert TYPE_ICONS[StepType.FLOW] == "⧉"
