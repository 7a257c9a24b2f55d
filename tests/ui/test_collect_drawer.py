"""The drawer shows what collecting did: every value an attribute was given, unsatisfied inputs."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from argyll.apply import fold_flow
from argyll.events import (
    AttributeSet,
    Event,
    FlowStarted,
    StepCompleted,
    StepSkipped,
    StepStarted,
    flow_aggregate,
)
from argyll.model import AttributeValue, StepID
from argyll.planner import plan
from argyll.testing import catalog_of, script_step
from argyll.ui.views.flow_detail import execution_section, flow_attributes

AT = datetime(2026, 1, 1, tzinfo=UTC)


def flow_with_two_values():
    gate = script_step("c", "{}", outputs=["done"])
    gate["attributes"]["x"] = {"role": "required", "required": {"collect": "none"}}
    steps = (script_step("p1", "{}", outputs=["x"]), script_step("p2", "{}", outputs=["x"]), gate)
    started = FlowStarted("f", plan(catalog_of(*steps), ["c"], {}), {})
    data = [
        started,
        StepStarted("f", "p1", {}, {"t1": {}}),
        StepStarted("f", "p2", {}, {"t2": {}}),
        AttributeSet("f", "p1", "x", 1),
        StepCompleted("f", "p1", {"x": 1}),
        StepSkipped("f", "c", "input 'x' collects none but a value was produced", None, ("x",)),
        StepCompleted("f", "p2", {"x": 2}),
    ]
    return fold_flow(Event(flow_aggregate("f"), i + 1, AT, d) for i, d in enumerate(data))


def test_the_drawer_lists_every_value_and_the_unsatisfied_inputs() -> None:
    flow = flow_with_two_values()
    attributes = flow_attributes(flow)
    assert "every value of each" in attributes and "p2" in attributes
    section = execution_section("c", flow.executions["c"])
    assert "<th>unsatisfied</th>" in section and ">x<" in section


def test_no_candidates_section_for_single_values() -> None:
    flow = flow_with_two_values()
    single = replace(flow, attributes={"x": AttributeValue(1, StepID("p1"))})
    assert "every value of each" not in flow_attributes(single)
