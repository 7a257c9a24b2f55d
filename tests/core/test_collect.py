"""Collect modes, match gates, deadlines and unsatisfied inputs, through the deciders."""

from datetime import timedelta
from typing import Any

import pytest

from argyll.apply import FLOW_APPLIERS, fold, fold_flow
from argyll.collect import Ready, Unsatisfied, Waiting, deadlines, readiness
from argyll.decide import (
    Context,
    Failed,
    Policy,
    RunWork,
    ScheduleWake,
    Succeeded,
    on_start,
    on_wake,
    on_work_outcome,
)
from argyll.errors import ValidationError
from argyll.events import Event, StepFailed, StepSkipped, decode_data, flow_aggregate
from argyll.explain import describe, explain
from argyll.model import FlowStatus, ScriptConfig, StepStatus
from argyll.planner import plan
from argyll.runtime.scripts import ScriptRunner
from argyll.testing import FakeClock, catalog_of, counter_tokens, script_step

RUNNER = ScriptRunner()


def evaluate(config: ScriptConfig, bindings: Any) -> bool:
    """A match gate's truth, as the runtime tests it (Ale, Lua, jpath)."""
    return RUNNER.test(config, bindings)


def consumer(
    mode: str | None = None, *, role="required", match=None, deadline=None, fan=False, **more
):
    """Step ``c``: takes ``x`` (as ``role``, collected by ``mode``), outputs ``done``."""
    settings: dict[str, Any] = {"for_each": True} if fan else {}
    if mode is not None:
        settings["collect"] = mode
    if match is not None:
        settings["match"] = {"language": "ale", "script": match}
    if deadline is not None:
        settings["deadline"] = deadline
    step = script_step("c", "{:done true}", outputs=["done"], **more)
    step["attributes"]["x"] = {"role": role, **({role: settings} if settings else {})}
    return step


def provider(step_id: str, **more):
    return script_step(step_id, "{}", outputs=["x"], **more)


class Flow:
    """One flow driven through the deciders on a fake clock, folded as the runtime folds."""

    def __init__(self, *steps, goals=("c",), init=None):
        self.clock, self.tokens = FakeClock(), counter_tokens()
        self.catalog = catalog_of(*steps)
        self.log: list[Event] = []
        self.runs: dict[str, RunWork] = {}
        self.state = None
        self.effects: list = []
        self.take(on_start("f1", plan(self.catalog, goals, init or {}), init or {}, self.context()))

    def context(self):
        return Context(self.clock.now(), self.tokens, "me", Policy(), test=evaluate)

    def take(self, decision):
        first = self.state.version if self.state else 0
        events = [
            Event(flow_aggregate("f1"), first + i + 1, self.clock.now(), data)
            for i, data in enumerate(decision.events)
        ]
        self.state = (
            fold_flow(events) if self.state is None else fold(self.state, events, FLOW_APPLIERS)
        )
        assert decision.state == self.state
        self.log += events
        self.effects = decision.effects
        self.runs.update({e.step.id: e for e in decision.effects if isinstance(e, RunWork)})

    def finish(self, step_id: str, outcome=None):
        run = self.runs.pop(step_id)
        outcome = outcome if outcome is not None else Succeeded({})
        self.take(on_work_outcome(self.state, step_id, run.token, outcome, self.context()))

    def status(self, step_id: str) -> StepStatus:
        return self.state.executions[step_id].status

    def inputs(self, step_id: str) -> dict[str, Any]:
        return dict(self.state.executions[step_id].inputs)

    def wake(self, milliseconds: int):
        self.clock.advance(milliseconds)
        self.take(on_wake(self.state, self.context()))

    def replayed(self):
        return fold_flow(self.log)


def two_providers(mode, **consumer_settings):
    return Flow(provider("p1"), provider("p2"), consumer(mode, **consumer_settings))


# ------------------------------------------------------------- candidates


def test_a_second_value_becomes_a_candidate_the_first_stays_the_value():
    flow = two_providers("last")
    flow.finish("p1", Succeeded({"x": 1}))
    assert flow.state.attributes["x"].to_dict() == {"value": 1, "step": "p1"}
    flow.finish("p2", Succeeded({"x": 2}))
    attribute = flow.state.attributes["x"]
    assert attribute.value == 1
    assert attribute.to_dict()["values"] == [{"value": 1, "step": "p1"}, {"value": 2, "step": "p2"}]
    assert [e.type for e in flow.log].count("attribute_set") == 1
    assert flow.replayed() == flow.state


def test_init_is_the_first_candidate():
    flow = Flow(provider("p1"), consumer("some"), init={"x": 0})
    flow.finish("p1", Succeeded({"x": 1}))
    assert flow.inputs("c") == {"x": [0, 1]}
    assert flow.state.attributes["x"].to_dict()["values"][0] == {"value": 0, "step": None}


# ------------------------------------------------------- each mode over outcomes

OK, FAIL, NOTHING = Succeeded({"x": 1}), Failed("boom"), Succeeded({})
TWO = Succeeded({"x": 2})


@pytest.mark.parametrize(
    ("mode", "first", "second", "status", "inputs"),
    [
        ("first", OK, TWO, StepStatus.ACTIVE, {"x": 1}),
        ("last", OK, TWO, StepStatus.ACTIVE, {"x": 2}),
        ("last", OK, FAIL, StepStatus.ACTIVE, {"x": 1}),
        ("last", NOTHING, NOTHING, StepStatus.SKIPPED, {}),
        ("some", OK, TWO, StepStatus.ACTIVE, {"x": [1, 2]}),
        ("some", FAIL, TWO, StepStatus.ACTIVE, {"x": [2]}),
        ("some", FAIL, FAIL, StepStatus.FAILED, {}),
        ("all", OK, TWO, StepStatus.ACTIVE, {"x": [1, 2]}),
        ("all", OK, NOTHING, StepStatus.SKIPPED, {}),
        ("all", OK, FAIL, StepStatus.FAILED, {}),
        ("none", NOTHING, NOTHING, StepStatus.ACTIVE, {}),
        ("none", NOTHING, FAIL, StepStatus.ACTIVE, {}),
        ("none", NOTHING, OK, StepStatus.SKIPPED, {}),
    ],
)
def test_each_mode_over_two_providers(mode, first, second, status, inputs):
    flow = two_providers(mode)
    flow.finish("p1", first)
    flow.finish("p2", second)
    assert flow.status("c") is status
    assert flow.inputs("c") == inputs
    ended_early = status in (StepStatus.SKIPPED, StepStatus.FAILED)
    assert flow.state.executions["c"].unsatisfied == (("x",) if ended_early else ())
    assert flow.replayed() == flow.state


@pytest.mark.parametrize("mode", ["last", "some", "all", "none"])
def test_modes_but_first_wait_for_every_provider(mode):
    flow = two_providers(mode)
    flow.finish("p1", NOTHING if mode == "none" else OK)
    assert flow.status("c") is StepStatus.PENDING


def test_first_does_not_wait():
    flow = two_providers("first")
    flow.finish("p1", OK)
    assert flow.status("c") is StepStatus.ACTIVE


def test_all_gives_up_as_soon_as_one_provider_ends_without_the_value():
    flow = two_providers("all")
    flow.finish("p1", FAIL)
    assert flow.status("c") is StepStatus.FAILED
    assert flow.status("p2") is StepStatus.ACTIVE


def test_none_skips_as_soon_as_a_value_arrives():
    flow = two_providers("none")
    flow.finish("p1", OK)
    assert flow.status("c") is StepStatus.SKIPPED
    assert "collects none" in flow.state.executions["c"].reason


def test_a_list_mode_fans_out_over_the_collected_values():
    flow = Flow(provider("p1"), provider("p2"), consumer("some", fan=True))
    flow.finish("p1", OK)
    flow.finish("p2", TWO)
    items = flow.state.executions["c"].work_items.values()
    assert sorted(item.inputs["x"] for item in items) == [1, 2]


def test_flow_completes_with_the_collected_values():
    flow = two_providers("all")
    flow.finish("p1", OK)
    flow.finish("p2", TWO)
    flow.finish("c", Succeeded({"done": True}))
    assert flow.state.status is FlowStatus.COMPLETED
    assert flow.state.executions["c"].inputs == {"x": [1, 2]}


# ------------------------------------------------------------------ match


@pytest.mark.parametrize(
    ("mode", "values", "status", "inputs"),
    [
        ("first", [1, 5], StepStatus.ACTIVE, {"x": 5}),
        ("first", [1, 0], StepStatus.SKIPPED, {}),
        ("last", [5, 7], StepStatus.ACTIVE, {"x": 7}),
        ("last", [5, 0], StepStatus.ACTIVE, {"x": 5}),
        ("some", [5, 0], StepStatus.ACTIVE, {"x": [5]}),
        ("some", [0, 1], StepStatus.SKIPPED, {}),
        ("all", [5, 7], StepStatus.ACTIVE, {"x": [5, 7]}),
        ("none", [0, 1], StepStatus.ACTIVE, {}),
    ],
)
def test_match_filters_candidates_before_collecting(mode, values, status, inputs):
    flow = two_providers(mode, match="(> value 1)")
    flow.finish("p1", Succeeded({"x": values[0]}))
    flow.finish("p2", Succeeded({"x": values[1]}))
    assert flow.status("c") is status
    assert flow.inputs("c") == inputs
    assert flow.replayed() == flow.state


def test_an_unmatched_all_skips_at_once():
    flow = two_providers("all", match="(> value 1)")
    flow.finish("p1", OK)
    assert flow.status("c") is StepStatus.SKIPPED
    assert flow.status("p2") is StepStatus.ACTIVE
    assert flow.state.executions["c"].unsatisfied == ("x",)


def test_a_matched_none_skips_at_once():
    flow = two_providers("none", match="(> value 1)")
    flow.finish("p1", TWO)
    assert flow.status("c") is StepStatus.SKIPPED


def test_an_unsatisfiable_match_does_not_wait_for_other_inputs():
    slow = script_step("q", "{}", outputs=["y"])
    gated = consumer("first", match="(> value 1)", requires=["y"])
    flow = Flow(provider("p1"), slow, gated)
    flow.finish("p1", OK)
    assert flow.status("c") is StepStatus.SKIPPED
    assert flow.status("q") is StepStatus.ACTIVE
    assert flow.state.executions["c"].unsatisfied == ("x",)
    assert flow.state.status is FlowStatus.COMPLETED


def test_a_failing_match_fails_the_step():
    flow = two_providers("first", match='(error "no")')
    flow.finish("p1", OK)
    execution = flow.state.executions["c"]
    assert execution.status is StepStatus.FAILED
    assert execution.unsatisfied == ("x",)
    assert "match of input 'x' failed" in execution.error


def test_replay_runs_no_match_script():
    flow = two_providers("some", match="(> value 1)")
    flow.finish("p1", TWO)
    flow.finish("p2", OK)
    assert fold_flow(flow.log) == flow.state  # appliers alone: no evaluator anywhere


# --------------------------------------------------------------- deadlines


def late_optional(mode=None, deadline=1000, **more):
    return consumer(mode, role="optional", deadline=deadline, **more)


def wakes(flow):
    return [e.at for e in flow.effects if isinstance(e, ScheduleWake)]


def test_a_deadline_without_required_inputs_counts_from_the_flow_start():
    flow = Flow(provider("p1"), late_optional())
    assert flow.status("c") is StepStatus.PENDING
    assert wakes(flow) == [flow.state.created_at + timedelta(milliseconds=1000)]
    flow.wake(999)
    assert flow.status("c") is StepStatus.PENDING
    flow.wake(1)
    assert flow.status("c") is StepStatus.ACTIVE
    assert flow.inputs("c") == {}


def test_at_the_deadline_the_default_applies():
    step = late_optional()
    step["attributes"]["x"]["optional"]["default"] = '"none yet"'
    flow = Flow(provider("p1"), step)
    flow.wake(1000)
    assert flow.inputs("c") == {"x": "none yet"}
    flow.finish("p1", OK)  # a later value does not restart it
    assert flow.inputs("c") == {"x": "none yet"}


def test_a_value_before_the_deadline_is_used_at_once():
    flow = Flow(provider("p1"), late_optional())
    flow.clock.advance(500)
    flow.finish("p1", OK)
    assert flow.inputs("c") == {"x": 1}


def test_a_deadline_counts_from_the_required_inputs():
    need = script_step("r", "{}", outputs=["y"])
    flow = Flow(need, provider("p1"), late_optional(requires=["y"]))
    flow.clock.advance(5000)
    flow.finish("r", Succeeded({"y": 1}))
    assert wakes(flow) == [flow.clock.now() + timedelta(milliseconds=1000)]
    flow.wake(1000)
    assert flow.inputs("c") == {"y": 1}


def test_a_deadline_of_zero_does_not_wait():
    flow = Flow(provider("p1"), late_optional(deadline=0))
    assert flow.status("c") is StepStatus.ACTIVE
    assert flow.inputs("c") == {}


@pytest.mark.parametrize(
    ("mode", "inputs"),
    [("first", {"x": 1}), ("last", {"x": 2}), ("some", {"x": [1, 2]}), ("all", {})],
)
def test_at_the_deadline_the_best_value_so_far(mode, inputs):
    flow = Flow(provider("p1"), provider("p2"), provider("p3"), late_optional(mode))
    flow.clock.advance(100)
    flow.finish("p1", OK)
    flow.clock.advance(100)
    flow.finish("p2", TWO)
    flow.wake(800)
    assert flow.inputs("c") == inputs


def test_a_none_input_with_a_value_by_the_deadline_skips():
    flow = Flow(provider("p1"), provider("p2"), late_optional("none"))
    flow.finish("p1", OK)
    assert flow.status("c") is StepStatus.SKIPPED
    assert flow.state.executions["c"].unsatisfied == ("x",)


def test_values_after_the_deadline_are_not_used_even_when_the_wake_is_late():
    flow = Flow(provider("p1"), late_optional("first"))
    flow.clock.advance(1500)  # the wake never came: a restart, say
    flow.finish("p1", OK)
    assert flow.status("c") is StepStatus.ACTIVE
    assert flow.inputs("c") == {}


def test_ended_providers_resolve_before_the_deadline():
    flow = Flow(provider("p1"), late_optional())
    flow.finish("p1", NOTHING)
    assert flow.status("c") is StepStatus.ACTIVE


def test_the_same_state_gives_the_same_wake():
    flow = Flow(provider("p1"), late_optional())
    step = flow.state.plan.steps["c"]
    first = readiness(flow.state, step, flow.clock.now(), evaluate)
    later = readiness(flow.state, step, flow.clock.now() + timedelta(milliseconds=10), evaluate)
    assert isinstance(first, Waiting)
    assert first == later


# ------------------------------------------------------------ unsatisfied


def test_unreachable_required_input_is_unsatisfied_part_one_message():
    flow = Flow(provider("p1"), consumer())
    flow.finish("p1", FAIL)
    execution = flow.state.executions["c"]
    assert execution.status is StepStatus.FAILED
    assert execution.error == "required input 'x' cannot be produced: step 'p1' failed"
    assert execution.unsatisfied == ("x",)
    assert execution.to_dict()["unsatisfied"] == ["x"]


def test_unsatisfied_travels_in_the_events_and_old_events_read_unchanged():
    skipped = StepSkipped("f1", "c", "why", unsatisfied=("x", "y"))
    assert skipped.to_dict()["unsatisfied"] == ("x", "y")
    assert decode_data("step_skipped", {**skipped.to_dict(), "unsatisfied": ["x", "y"]}) == skipped
    old = {"flow_id": "f1", "step_id": "c", "error": "e"}
    assert decode_data("step_failed", old) == StepFailed("f1", "c", "e")
    assert "unsatisfied" not in StepFailed("f1", "c", "e").to_dict()


def test_explain_names_the_unsatisfied_inputs():
    flow = two_providers("all", match="(> value 1)")
    flow.finish("p1", OK)
    reason = explain(flow.state, flow.log, flow.catalog).steps["c"]
    assert reason.reason == "inputs_unsatisfied"
    assert reason.detail["inputs"] == ["x"]


def test_readiness_answers():
    flow = two_providers("all")
    step = flow.state.plan.steps["c"]
    assert readiness(flow.state, step, flow.clock.now(), evaluate) == Waiting()
    flow.finish("p1", OK)
    flow.finish("p2", NOTHING)
    answer = readiness(flow.state, step, flow.clock.now(), evaluate)
    assert isinstance(answer, Unsatisfied) and answer.inputs == ("x",)
    assert not isinstance(answer, Ready)


def test_deadlines_lists_the_wakes_a_restart_must_keep():
    flow = Flow(provider("p1"), late_optional())
    due = flow.state.created_at + timedelta(milliseconds=1000)
    assert deadlines(flow.state, flow.clock.now(), evaluate) == [due]
    flow.wake(1000)
    assert deadlines(flow.state, flow.clock.now(), evaluate) == []


# ------------------------------------------------------------- registration


def typed(step, name, attr_type):
    step["attributes"][name]["type"] = attr_type
    return step


def test_a_gathering_input_is_typed_as_its_array():
    number_provider = typed(provider("p1"), "x", "number")
    catalog = catalog_of(number_provider, typed(consumer("all"), "x", "array"))
    assert catalog.attribute_type("x")[0].value == "number"


def test_a_gathering_input_of_a_scalar_type_is_refused():
    with pytest.raises(ValidationError) as refused:
        catalog_of(typed(consumer("some"), "x", "number"))
    assert [field for field, _ in refused.value.problems] == ["attributes.x.type"]


def test_a_singleton_mode_keeps_the_attribute_type():
    with pytest.raises(ValidationError):
        catalog_of(typed(provider("p1"), "x", "number"), typed(consumer("last"), "x", "array"))


def test_a_none_input_nothing_provides_is_not_missing_and_is_satisfied():
    flow = Flow(consumer("none"))
    assert flow.state.plan.required == ()
    assert flow.status("c") is StepStatus.ACTIVE
    assert flow.inputs("c") == {}


def test_a_jpath_match_sees_the_candidate_as_its_document():
    gated = consumer("some")
    gated["attributes"]["x"]["required"]["match"] = {"language": "jpath", "script": "$.price < 10"}
    flow = Flow(provider("p1"), provider("p2"), gated)
    flow.finish("p1", Succeeded({"x": {"price": 5}}))
    flow.finish("p2", Succeeded({"x": {"price": 50}}))
    assert flow.inputs("c") == {"x": [{"price": 5}]}


def test_init_settles_a_first_input_but_the_other_modes_still_hear_providers():
    steps = (provider("p1"), consumer("last"))
    assert set(plan(catalog_of(*steps), ["c"], {"x": 0}).steps) == {"p1", "c"}
    assert set(plan(catalog_of(provider("p1"), consumer()), ["c"], {"x": 0}).steps) == {"c"}
    flow = Flow(*steps, init={"x": 0})
    flow.finish("p1", Succeeded({"x": 7}))
    assert flow.inputs("c") == {"x": 7}
    alone = plan(catalog_of(consumer("all")), ["c"], {"x": 0})
    assert alone.required == ()


def test_explain_says_a_collecting_step_waits_for_the_providers_still_running():
    flow = two_providers("last")
    flow.finish("p1", OK)
    reason = explain(flow.state, flow.log, flow.catalog).steps["c"]
    assert reason.reason == "waiting_for_inputs"
    assert reason.detail["inputs"] == {"x": {"providers": {"p1": "completed", "p2": "active"}}}
    flow.finish("p2", TWO)
    assert explain(flow.state, flow.log, flow.catalog).steps["c"].reason == "running"


def test_describe_gives_the_unsatisfied_reason_in_words():
    flow = two_providers("none")
    flow.finish("p1", OK)
    entry = explain(flow.state, flow.log, flow.catalog).steps["c"].to_dict()
    assert describe("c", entry) == "cannot run: input 'x' collects none but a value was produced"
