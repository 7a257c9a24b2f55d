"""Mappings, const and meta inputs in the deciders: what the service gets, what the flow keeps."""

from dataclasses import replace
from typing import Any

import pytest

from argyll.apply import FLOW_APPLIERS, fold, fold_flow
from argyll.decide import (
    Context,
    EvaluatePredicate,
    Policy,
    RunWork,
    Succeeded,
    on_predicate,
    on_start,
    on_work_outcome,
)
from argyll.errors import ValidationError
from argyll.events import Event, flow_aggregate
from argyll.mapping import meta_values, with_webhook_url
from argyll.model import FlowStatus, ParentRef, StepStatus, Token, WorkStatus, parse_step
from argyll.planner import plan
from argyll.runtime.scripts import ScriptRunner
from argyll.testing import FakeClock, catalog_of, counter_tokens

RUNNER = ScriptRunner(workers=1)


class Flow:
    """Drives one flow through the deciders with the runtime's script evaluator."""

    def __init__(self, *steps: dict[str, Any], goals: list[str], init: dict | None = None):
        self.clock, self.tokens = FakeClock(), counter_tokens()
        self.plan = plan(catalog_of(*steps), goals, init or {})
        self.state: Any = None
        self.events: list[Event] = []
        self.effects: list[Any] = []
        self.take(on_start("f1", self.plan, init or {}, self.context()))

    def context(self) -> Context:
        return Context(self.clock.now(), self.tokens, "me", Policy(), RUNNER.evaluate)

    def take(self, decision: Any) -> list[str]:
        first = self.state.version if self.state else 0
        stamped = [
            Event(flow_aggregate("f1"), first + i + 1, self.clock.now(), data)
            for i, data in enumerate(decision.events)
        ]
        self.state = fold_flow(stamped) if first == 0 else fold(self.state, stamped, FLOW_APPLIERS)
        assert decision.state == self.state  # what was decided is what a replay folds to
        self.events += stamped
        self.effects = decision.effects
        return [event.type for event in stamped]

    def runs(self) -> list[RunWork]:
        return [effect for effect in self.effects if isinstance(effect, RunWork)]

    def answer(self, run: RunWork, outputs: dict[str, Any]) -> list[str]:
        decided = on_work_outcome(
            self.state, run.step.id, run.token, Succeeded(outputs), self.context()
        )
        return self.take(decided)

    def data(self, event_type: str) -> list[Any]:
        return [event.data for event in self.events if event.type == event_type]


def http_step(attributes: dict[str, Any], step_id: str = "svc", **extra: Any) -> dict[str, Any]:
    return {
        "id": step_id,
        "type": "sync",
        "http": {"endpoint": "http://svc.test/call"},
        "attributes": attributes,
        **extra,
    }


def script(language: str, source: str) -> dict[str, str]:
    return {"language": language, "script": source}


def required(**settings: Any) -> dict[str, Any]:
    return {"role": "required", "required": settings} if settings else {"role": "required"}


def output(**settings: Any) -> dict[str, Any]:
    return {"role": "output", "output": settings} if settings else {"role": "output"}


# ------------------------------------------------------------------- inputs


def test_an_input_reaches_the_service_under_its_inner_name():
    step = http_step(
        {
            "user_email": required(mapping={"name": "email"}),
            "note": {"role": "optional", "optional": {"default": '"hi"', "mapping": {"name": "n"}}},
            "ok": output(),
        }
    )
    flow = Flow(step, goals=["svc"], init={"user_email": "a@b.c"})
    (run,) = flow.runs()
    assert run.inputs == {"email": "a@b.c", "n": "hi"}
    execution = flow.state.executions["svc"]
    assert execution.inputs == {"user_email": "a@b.c", "note": "hi"}  # the flow's side
    assert execution.work_items[run.token].inputs == {"email": "a@b.c", "n": "hi"}  # the service's


@pytest.mark.parametrize(
    ("language", "source"),
    [("ale", "(* value 2)"), ("lua", "return value * 2"), ("jpath", "$.amount")],
)
def test_an_input_script_transforms_the_value_in_each_language(language, source):
    given = {"amount": 21} if language == "jpath" else 21
    half = 21 if language == "jpath" else 42
    step = http_step(
        {
            "total": required(mapping={"name": "sum", "script": script(language, source)}),
            "ok": output(),
        }
    )
    flow = Flow(step, goals=["svc"], init={"total": given})
    (run,) = flow.runs()
    assert run.inputs == {"sum": half}
    assert flow.data("step_started")[0].work_items[run.token] == {"sum": half}


UPSTREAM_EXAMPLES = [
    # docs/concepts/steps.md, "Attribute Mappings": each as written there, with a flow value
    # it fits and what the service then receives.
    (
        {
            "user_email": {
                "role": "required",
                "type": "string",
                "required": {"mapping": {"name": "email"}},
            }
        },
        {"user_email": "ada@example.com"},
        {"email": "ada@example.com"},
    ),
    (
        {
            "order_total": {
                "role": "required",
                "type": "number",
                "required": {
                    "mapping": {"script": {"language": "jpath", "script": "$.data.order.total"}}
                },
            }
        },
        {"order_total": {"data": {"order": {"total": 99.5}}}},
        {"order_total": 99.5},
    ),
    (
        {
            "customer_id": {
                "role": "required",
                "type": "string",
                "required": {
                    "mapping": {
                        "name": "customerId",
                        "script": {"language": "jpath", "script": "$.user.id"},
                    }
                },
            }
        },
        {"customer_id": {"user": {"id": "c-7"}}},
        {"customerId": "c-7"},
    ),
]


@pytest.mark.parametrize(("attributes", "init", "sent"), UPSTREAM_EXAMPLES)
def test_upstreams_mapping_examples_run(attributes, init, sent):
    """A scripted input's ``type`` is what its script yields, as these examples take it."""
    flow = Flow(http_step({**attributes, "ok": output()}), goals=["svc"], init=init)
    assert flow.runs()[0].inputs == sent


def test_a_scripted_input_of_the_wrong_type_fails_the_step():
    mapping = {"script": script("jpath", "$.total")}
    step = http_step(
        {
            "t": {"role": "required", "type": "number", "required": {"mapping": mapping}},
            "ok": output(),
        }
    )
    flow = Flow(step, goals=["svc"], init={"t": {"total": "12"}})
    assert flow.runs() == []
    assert flow.state.executions["svc"].error == "input 't' as mapped must be of type number"


def test_a_renamed_input_keeps_the_flows_type_check():
    step = http_step(
        {
            "n": {"role": "required", "type": "number", "required": {"mapping": {"name": "m"}}},
            "ok": output(),
        }
    )
    with pytest.raises(ValidationError):
        Flow(step, goals=["svc"], init={"n": "one"})


def test_a_jpath_input_mapping_that_selects_nothing_leaves_the_input_out():
    step = http_step(
        {
            "a": required(mapping={"script": script("jpath", "$.missing")}),
            "b": required(mapping={"script": script("jpath", "$.here")}),
            "ok": output(),
        }
    )
    flow = Flow(step, goals=["svc"], init={"a": {"x": 1}, "b": {"here": None}})
    assert flow.runs()[0].inputs == {"b": None}  # a node holding null is a value


def test_a_failing_input_script_fails_the_step_before_any_work():
    step = http_step(
        {"x": required(mapping={"script": script("lua", "error('no')")}), "ok": output()}
    )
    flow = Flow(step, goals=["svc"], init={"x": 1})
    assert flow.runs() == []
    execution = flow.state.executions["svc"]
    assert execution.status is StepStatus.FAILED
    assert execution.error.startswith("input 'x' mapping (lua) failed:")
    assert "no" in execution.error
    assert flow.state.status is FlowStatus.FAILED


# ------------------------------------------------------------------ outputs


def test_an_output_is_read_under_its_inner_name_and_kept_under_its_own():
    step = http_step({"x": required(), "name": output(mapping={"name": "user_name"})})
    flow = Flow(step, goals=["svc"], init={"x": 1})
    (run,) = flow.runs()
    assert flow.answer(run, {"user_name": "Ada", "name": "ignored"})[-2:] == [
        "flow_completed",
        "flow_deactivated",
    ]
    assert flow.state.attributes["name"].value == "Ada"
    item = flow.state.executions["svc"].work_items[run.token]
    assert item.outputs == {"user_name": "Ada", "name": "ignored"}  # what the service answered
    assert flow.state.executions["svc"].outputs == {"name": "Ada"}


@pytest.mark.parametrize(
    ("language", "source"),
    [("ale", '(get value "cents")'), ("lua", "return value.cents"), ("jpath", "$.cents")],
)
def test_an_output_script_transforms_the_named_field_in_each_language(language, source):
    mapping = {"name": "price", "script": script(language, source)}
    step = http_step({"x": required(), "cents": output(mapping=mapping)})
    flow = Flow(step, goals=["svc"], init={"x": 1})
    flow.answer(flow.runs()[0], {"price": {"cents": 250}})
    assert flow.state.attributes["cents"].value == 250


def test_an_output_script_without_a_name_reads_the_whole_response():
    """Upstream's example: ``$.response.data`` picks a nested part of the response."""
    mapping = {"script": script("jpath", "$.response.data")}
    step = http_step(
        {
            "x": required(),
            "user_data": {"role": "output", "type": "object", "output": {"mapping": mapping}},
        }
    )
    flow = Flow(step, goals=["svc"], init={"x": 1})
    flow.answer(flow.runs()[0], {"response": {"data": {"id": 3}}})
    assert flow.state.attributes["user_data"].value == {"id": 3}


def test_an_output_whose_jpath_selects_nothing_is_not_produced():
    mapping = {"script": script("jpath", "$.missing")}
    step = http_step({"x": required(), "y": output(mapping=mapping), "z": output()})
    flow = Flow(step, goals=["svc"], init={"x": 1})
    flow.answer(flow.runs()[0], {"z": 1})
    assert "y" not in flow.state.attributes
    assert flow.state.executions["svc"].outputs == {"z": 1}


def test_a_failing_output_script_fails_the_item_for_good():
    mapping = {"script": script("ale", "(/ 1 0)")}
    step = http_step(
        {"x": required(), "y": output(mapping=mapping)}, work_config={"max_retries": 3}
    )
    flow = Flow(step, goals=["svc"], init={"x": 1})
    (run,) = flow.runs()
    assert flow.answer(run, {"y": 2}) == [
        "work_failed",
        "step_failed",
        "flow_failed",
        "flow_deactivated",
    ]
    item = flow.state.executions["svc"].work_items[run.token]
    assert item.status is WorkStatus.FAILED
    assert item.error.startswith("output 'y' mapping (ale) failed:")


def test_a_mapped_output_of_the_wrong_type_fails_the_item():
    mapping = {"name": "raw", "script": script("lua", "return tostring(value)")}
    step = http_step(
        {"x": required(), "n": {"role": "output", "type": "number", "output": {"mapping": mapping}}}
    )
    flow = Flow(step, goals=["svc"], init={"x": 1})
    flow.answer(flow.runs()[0], {"raw": 5})
    assert flow.state.executions["svc"].error == "output 'n' must be of type number"


def test_mapped_outputs_feed_the_next_step_under_outer_names():
    first = http_step({"x": required(), "y": output(mapping={"name": "Y"})}, step_id="first")
    second = http_step({"y": required(mapping={"name": "why"}), "z": output()}, step_id="second")
    flow = Flow(first, second, goals=["second"], init={"x": 1})
    flow.answer(flow.runs()[0], {"Y": 7})
    (run,) = flow.runs()
    assert run.step.id == "second" and run.inputs == {"why": 7}


# -------------------------------------------------------------------- const


def const(value: str, kind: str = "any") -> dict[str, Any]:
    return {"role": "const", "type": kind, "const": {"value": value}}


def test_a_const_value_is_given_to_the_service_and_init_overrides_it():
    step = http_step({"x": required(), "currency": const('"EUR"', "string"), "ok": output()})
    assert Flow(step, goals=["svc"], init={"x": 1}).runs()[0].inputs == {"x": 1, "currency": "EUR"}
    overridden = Flow(step, goals=["svc"], init={"x": 1, "currency": "USD"})
    assert overridden.runs()[0].inputs == {"x": 1, "currency": "USD"}
    assert overridden.state.executions["svc"].inputs == {"x": 1, "currency": "USD"}


def test_an_init_override_of_the_wrong_type_is_refused():
    step = http_step({"x": required(), "limit": const("10", "number"), "ok": output()})
    with pytest.raises(ValidationError) as refused:
        Flow(step, goals=["svc"], init={"x": 1, "limit": "ten"})
    assert refused.value.problems == [("init.limit", "must be of type number")]


def test_a_step_of_consts_alone_runs_at_flow_start():
    step = http_step({"k": const('{"a": [1, 2]}'), "ok": output()})
    assert Flow(step, goals=["svc"]).runs()[0].inputs == {"k": {"a": [1, 2]}}


# --------------------------------------------------------------------- meta


def meta(key: str) -> dict[str, Any]:
    return {"role": "meta", "meta": {"key": key}}


META_STEP = http_step(
    {
        "x": required(),
        "fid": meta("flow_id"),
        "sid": meta("step_id"),
        "tok": meta("receipt_token"),
        "hook": meta("webhook_url"),
        "pf": meta("parent_flow_id"),
        "ps": meta("parent_step_id"),
        "pt": meta("parent_work_item_token"),
        "ok": output(),
    }
)


def test_meta_inputs_are_merged_into_the_call_not_recorded_with_the_item():
    flow = Flow(META_STEP, goals=["svc"], init={"x": 1})
    (run,) = flow.runs()
    assert run.inputs == {"x": 1, "fid": "f1", "sid": "svc", "tok": run.token}
    assert flow.state.executions["svc"].work_items[run.token].inputs == {"x": 1}


def test_a_child_flow_has_its_parent_as_meta_and_webhook_url_waits_for_the_runtime():
    step = parse_step(META_STEP)
    flow = Flow(META_STEP, goals=["svc"], init={"x": 1}).state
    child = replace(flow, parent=ParentRef("p1", "outer", Token("pt1")))
    assert meta_values(child, step, Token("t9")) == {
        "fid": "f1",
        "sid": "svc",
        "tok": "t9",
        "pf": "p1",
        "ps": "outer",
        "pt": "pt1",
    }
    assert with_webhook_url(step, {"x": 1}, "http://e/webhook/f1/svc/t9") == {
        "x": 1,
        "hook": "http://e/webhook/f1/svc/t9",
    }


def test_a_predicate_sees_const_and_the_steps_own_meta_values():
    step = http_step(
        {
            "x": required(),
            "c": const("3"),
            "fid": meta("flow_id"),
            "tok": meta("receipt_token"),
            "ok": output(),
        },
        predicate=script("ale", "(= c 3)"),
    )
    flow = Flow(step, goals=["svc"], init={"x": 1})
    (check,) = [e for e in flow.effects if isinstance(e, EvaluatePredicate)]
    assert check.inputs == {"x": 1, "c": 3, "fid": "f1"}  # no item yet, so no token
    flow.take(on_predicate(flow.state, "svc", True, None, flow.context()))
    (run,) = flow.runs()
    assert run.inputs == {"x": 1, "c": 3, "fid": "f1", "tok": run.token}


def test_a_script_step_sees_inner_names_const_and_meta():
    step = {
        "id": "calc",
        "type": "script",
        "script": script("lua", "return {out = amt * k, who = fid}"),
        "attributes": {
            "amount": required(mapping={"name": "amt"}),
            "k": const("10"),
            "fid": meta("flow_id"),
            "out": output(),
            "who": output(),
        },
    }
    flow = Flow(step, goals=["calc"], init={"amount": 2})
    assert flow.runs()[0].inputs == {"amt": 2, "k": 10, "fid": "f1"}


# ----------------------------------------------------------------- for_each


def test_for_each_fans_out_on_the_flows_values_then_maps_each_item():
    step = http_step(
        {
            "orders": {
                "role": "required",
                "type": "array",
                "required": {
                    "for_each": True,
                    "mapping": {"name": "order_id", "script": script("jpath", "$.id")},
                },
            },
            "shipped": output(mapping={"name": "done"}),
        },
        work_config={"parallelism": 2},
    )
    orders = [{"id": "o1"}, {"id": "o2"}]
    flow = Flow(step, goals=["svc"], init={"orders": orders})
    runs = flow.runs()
    assert [run.inputs for run in runs] == [{"order_id": "o1"}, {"order_id": "o2"}]
    assert flow.state.executions["svc"].inputs == {"orders": orders}
    flow.answer(runs[1], {"done": "second"})
    flow.answer(runs[0], {"done": "first"})
    assert flow.state.attributes["shipped"].value == [
        {"orders": {"id": "o1"}, "shipped": "first"},
        {"orders": {"id": "o2"}, "shipped": "second"},
    ]


def test_for_each_without_mappings_keeps_part_ones_entries():
    step = http_step(
        {"a": required(for_each=True), "b": required(for_each=True), "y": output()},
        work_config={"parallelism": 4},
    )
    flow = Flow(step, goals=["svc"], init={"a": [1, 2], "b": ["p", "q"]})
    for run in flow.runs():
        flow.answer(run, {"y": f"{run.inputs['a']}{run.inputs['b']}"})
    assert sorted(flow.state.attributes["y"].value, key=lambda e: e["y"]) == [
        {"a": 1, "b": "p", "y": "1p"},
        {"a": 1, "b": "q", "y": "1q"},
        {"a": 2, "b": "p", "y": "2p"},
        {"a": 2, "b": "q", "y": "2q"},
    ]
