"""Flow deciders: events and effects from state + trigger + time, no event loop."""

from datetime import timedelta

import pytest

from argyll.apply import FLOW_APPLIERS, fold, fold_flow
from argyll.decide import (
    Context,
    EvaluatePredicate,
    Failed,
    Memoized,
    NotCompleted,
    Policy,
    RunWork,
    ScheduleWake,
    Succeeded,
    on_predicate,
    on_start,
    on_takeover,
    on_wake,
    on_work_outcome,
    retry_delay_ms,
)
from argyll.errors import MissingInputsError, NotFoundError, ValidationError
from argyll.events import Event, flow_aggregate
from argyll.model import BackoffType, FlowStatus, StepStatus, WorkConfig, WorkStatus
from argyll.planner import plan
from argyll.testing import FakeClock, catalog_of, counter_tokens, script_step

POLICY = Policy(max_retries=2)


class Flow:
    """Drives one flow through the deciders, folding what they decide like the runtime."""

    def __init__(self, *steps, goals, init=None):
        self.clock, self.tokens = FakeClock(), counter_tokens()
        self.plan = plan(catalog_of(*steps), goals, init or {})
        self.log = []
        self.effects = []
        self.state = None
        self.take(on_start("f1", self.plan, init or {}, self.context()))

    def context(self, instance="me"):
        return Context(self.clock.now(), self.tokens, instance, POLICY)

    def take(self, decision):
        now = self.clock.now()
        first = self.state.version if self.state else 0
        assert decision.expected == first
        events = [
            Event(flow_aggregate("f1"), first + i + 1, now, data)
            for i, data in enumerate(decision.events)
        ]
        self.state = (
            fold_flow(events) if self.state is None else fold(self.state, events, FLOW_APPLIERS)
        )
        assert decision.state == self.state
        self.log += events
        self.effects = decision.effects
        return [event.type for event in events]

    def runs(self):
        return [e for e in self.effects if isinstance(e, RunWork)]

    def outcome(self, effect, outcome):
        decision = on_work_outcome(
            self.state, effect.step.id, effect.token, outcome, self.context()
        )
        return self.take(decision)


def test_a_memo_hit_succeeds_the_item_and_names_where_its_outputs_came_from():
    flow = Flow(script_step("a", "1", outputs=["x"]), goals=["a"])
    (run,) = flow.runs()

    assert flow.outcome(run, Memoized({"x": 5}, "earlier", 4)) == [
        "work_succeeded",
        "attribute_set",
        "step_completed",
        "flow_completed",
        "flow_deactivated",
    ]
    hit = flow.log[3].data
    assert (hit.memo.flow_id, hit.memo.seq) == ("earlier", 4)
    assert flow.log[3].to_dict()["data"]["memo"] == {"flow_id": "earlier", "seq": 4}
    item = flow.state.executions["a"].work_items[run.token]
    assert (item.outputs, item.memo) == ({"x": 5}, {"flow_id": "earlier", "seq": 4})
    assert flow.outcome(run, Memoized({"x": 6}, "other", 1)) == []


def test_a_success_names_no_memo():
    flow = Flow(script_step("a", "1", outputs=["x"]), goals=["a"])
    (run,) = flow.runs()
    flow.outcome(run, Succeeded({"x": 5}))

    assert flow.log[3].data.memo is None
    assert "memo" not in flow.log[3].to_dict()["data"]
    assert "memo" not in flow.state.executions["a"].work_items[run.token].to_dict()


def test_one_step_flow_runs_and_completes():
    flow = Flow(script_step("a", "1", outputs=["x"]), goals=["a"])
    assert [e.type for e in flow.log] == ["flow_started", "step_started", "work_started"]
    (run,) = flow.runs()
    assert run.token == "t1"
    assert flow.outcome(run, Succeeded({"x": 5, "extra": 1})) == [
        "work_succeeded",
        "attribute_set",
        "step_completed",
        "flow_completed",
        "flow_deactivated",
    ]
    assert flow.state.status is FlowStatus.COMPLETED
    assert flow.state.attributes["x"].value == 5
    assert flow.state.attributes["x"].step == "a"
    assert flow.state.executions["a"].outputs == {"x": 5}


def test_a_repeated_outcome_decides_nothing():
    flow = Flow(script_step("a", "1", outputs=["x"]), goals=["a"])
    (run,) = flow.runs()
    flow.outcome(run, Succeeded({"x": 1}))
    assert flow.outcome(run, Succeeded({"x": 2})) == []
    assert flow.outcome(run, Failed("late")) == []


def test_unknown_token_is_not_found():
    flow = Flow(script_step("a", "1"), goals=["a"])
    with pytest.raises(NotFoundError):
        on_work_outcome(flow.state, "a", "nope", Succeeded({}), flow.context())


def test_chain_moves_on_in_the_same_decision():
    flow = Flow(
        script_step("a", "1", outputs=["x"]),
        script_step("b", "1", requires=["x"], outputs=["y"]),
        goals=["b"],
    )
    (run_a,) = flow.runs()
    types = flow.outcome(run_a, Succeeded({"x": 1}))
    assert types[-2:] == ["step_started", "work_started"]
    (run_b,) = flow.runs()
    assert run_b.step.id == "b"
    assert run_b.inputs == {"x": 1}


def test_independent_steps_start_together():
    flow = Flow(
        script_step("a", "1", outputs=["x"]),
        script_step("b", "1", outputs=["y"]),
        script_step("g", "1", requires=["x", "y"]),
        goals=["g"],
    )
    assert {run.step.id for run in flow.runs()} == {"a", "b"}


def test_missing_inputs_refuse_the_start():
    steps = catalog_of(script_step("g", "1", requires=["x", "y"]))
    with pytest.raises(MissingInputsError) as caught:
        on_start("f", plan(steps, ["g"], {}), {}, Context(FakeClock().now(), counter_tokens()))
    assert caught.value.inputs == ["x", "y"]


def test_init_of_the_wrong_type_is_refused():
    steps = catalog_of(script_step("g", "1", requires=["n"], types={"n": "number"}))
    with pytest.raises(ValidationError):
        on_start(
            "f",
            plan(steps, ["g"], {"n": "1"}),
            {"n": "1"},
            Context(FakeClock().now(), counter_tokens()),
        )


def test_output_of_the_wrong_type_fails_the_work():
    flow = Flow(script_step("a", "1", outputs=["x"], types={"x": "number"}), goals=["a"])
    (run,) = flow.runs()
    flow.outcome(run, Succeeded({"x": "five"}))
    assert flow.state.executions["a"].status is StepStatus.FAILED
    assert flow.state.status is FlowStatus.FAILED


def test_retry_is_scheduled_then_run_when_due_with_the_same_token():
    flow = Flow(
        script_step("a", "1", outputs=["x"], work_config={"init_backoff": 100}), goals=["a"]
    )
    (run,) = flow.runs()
    assert flow.outcome(run, NotCompleted("503")) == ["work_not_completed", "work_retry_scheduled"]
    (wake,) = flow.effects
    assert isinstance(wake, ScheduleWake)
    assert wake.at == flow.clock.now() + timedelta(milliseconds=100)
    item = flow.state.executions["a"].work_items["t1"]
    assert (item.status, item.retry_count) == (WorkStatus.NOT_COMPLETED, 1)
    assert flow.take(on_wake(flow.state, flow.context())) == []
    flow.clock.advance(100)
    assert flow.take(on_wake(flow.state, flow.context())) == ["work_started"]
    (again,) = flow.runs()
    assert (again.token, again.retry_count) == ("t1", 1)


def test_retries_exhausted_fail_the_step_and_flow():
    flow = Flow(script_step("a", "1", work_config={"init_backoff": 1}), goals=["a"])
    for _ in range(POLICY.max_retries):
        (run,) = flow.runs()
        flow.outcome(run, NotCompleted("timeout"))
        flow.clock.advance(1000)
        flow.take(on_wake(flow.state, flow.context()))
    (run,) = flow.runs()
    assert flow.outcome(run, NotCompleted("timeout"))[:2] == ["work_not_completed", "work_failed"]
    assert flow.state.status is FlowStatus.FAILED
    assert "gave up after 2 retries" in flow.state.executions["a"].error


def test_unlimited_retries():
    flow = Flow(
        script_step("a", "1", work_config={"max_retries": -1, "init_backoff": 1}), goals=["a"]
    )
    for _ in range(10):
        (run,) = flow.runs()
        assert "work_retry_scheduled" in flow.outcome(run, NotCompleted("x"))
        flow.clock.advance(60_000)
        flow.take(on_wake(flow.state, flow.context()))


@pytest.mark.parametrize(
    ("kind", "delays"),
    [
        (BackoffType.FIXED, [200, 200, 200, 200]),
        (BackoffType.LINEAR, [200, 400, 600, 800]),
        (BackoffType.EXPONENTIAL, [200, 400, 800, 1000]),
    ],
)
def test_backoff_delays(kind, delays):
    config = WorkConfig(init_backoff=200, max_backoff=1000, backoff_type=kind)
    assert [retry_delay_ms(config, n) for n in range(1, 5)] == delays


def test_permanent_failure_cascades_to_consumers():
    flow = Flow(
        script_step("a", "1", outputs=["x"]),
        script_step("b", "1", requires=["x"], outputs=["y"]),
        script_step("g", "1", requires=["y"]),
        goals=["g"],
    )
    (run,) = flow.runs()
    flow.outcome(run, Failed("bad request"))
    statuses = {sid: e.status for sid, e in flow.state.executions.items()}
    assert statuses == {"a": StepStatus.FAILED, "b": StepStatus.FAILED, "g": StepStatus.FAILED}
    assert flow.state.status is FlowStatus.FAILED
    assert "'b' failed" in flow.state.executions["g"].error


def test_missing_output_skips_consumers_and_a_skipped_goal_completes_the_flow():
    flow = Flow(
        script_step("a", "1", outputs=["x"]),
        script_step("g", "1", requires=["x"]),
        goals=["g"],
    )
    (run,) = flow.runs()
    flow.outcome(run, Succeeded({}))
    assert flow.state.executions["g"].status is StepStatus.SKIPPED
    assert flow.state.status is FlowStatus.COMPLETED


def test_optional_input_waits_for_its_provider_then_takes_the_default():
    flow = Flow(
        script_step("p", "1", outputs=["o"]),
        script_step("g", "1", optional={"o": "7"}),
        goals=["g"],
    )
    assert [run.step.id for run in flow.runs()] == ["p"]
    (run,) = flow.runs()
    flow.outcome(run, Failed("down"))
    (run_g,) = flow.runs()
    assert run_g.inputs == {"o": 7}


def test_optional_input_without_default_is_left_out():
    flow = Flow(
        script_step("g", "1", optional={"o": None}, requires=["r"]), goals=["g"], init={"r": 1}
    )
    (run,) = flow.runs()
    assert run.inputs == {"r": 1}


def test_first_value_wins():
    flow = Flow(
        script_step("p1", "1", outputs=["x"]),
        script_step("p2", "1", outputs=["x"]),
        script_step("g", "1", requires=["x"]),
        goals=["g"],
    )
    first, second = flow.runs()
    flow.outcome(first, Succeeded({"x": "first"}))
    assert flow.outcome(second, Succeeded({"x": "second"})).count("attribute_set") == 0
    assert flow.state.attributes["x"].value == "first"
    assert flow.state.attributes["x"].step == first.step.id


def test_for_each_fans_out_with_parallelism_and_aggregates():
    flow = Flow(
        script_step(
            "a",
            "1",
            requires=["items"],
            outputs=["y"],
            for_each=["items"],
            work_config={"parallelism": 2},
        ),
        goals=["a"],
        init={"items": [1, 2, 3]},
    )
    assert len(flow.state.executions["a"].work_items) == 3
    one, two = flow.runs()
    flow.outcome(one, Succeeded({"y": 10}))
    (three,) = flow.runs()
    flow.outcome(two, Succeeded({"y": 20}))
    assert flow.runs() == []
    flow.outcome(three, Succeeded({"y": 30}))
    assert flow.state.status is FlowStatus.COMPLETED
    assert sorted(flow.state.attributes["y"].value, key=lambda o: o["items"]) == [
        {"items": 1, "y": 10},
        {"items": 2, "y": 20},
        {"items": 3, "y": 30},
    ]


def test_for_each_cartesian_product_and_empty_array():
    flow = Flow(
        script_step("a", "1", requires=["p", "q"], outputs=["y"], for_each=["p", "q"]),
        goals=["a"],
        init={"p": [1, 2], "q": ["x", "y", "z"]},
    )
    items = flow.state.executions["a"].work_items.values()
    assert sorted((i.inputs["p"], i.inputs["q"]) for i in items) == [
        (1, "x"),
        (1, "y"),
        (1, "z"),
        (2, "x"),
        (2, "y"),
        (2, "z"),
    ]
    empty = Flow(
        script_step("a", "1", requires=["p"], outputs=["y"], for_each=["p"]),
        goals=["a"],
        init={"p": []},
    )
    assert empty.state.status is FlowStatus.COMPLETED
    assert empty.state.attributes["y"].value == []


def test_for_each_on_a_non_array_fails_the_step():
    flow = Flow(script_step("a", "1", requires=["p"], for_each=["p"]), goals=["a"], init={"p": 3})
    assert flow.state.executions["a"].status is StepStatus.FAILED


def test_predicate_false_skips_and_error_fails():
    flow = Flow(script_step("a", "1", predicate="false"), goals=["a"])
    (check,) = flow.effects
    assert isinstance(check, EvaluatePredicate)
    assert flow.take(on_predicate(flow.state, "a", False, None, flow.context())) == [
        "step_skipped",
        "flow_completed",
        "flow_deactivated",
    ]
    failing = Flow(script_step("a", "1", predicate="x"), goals=["a"])
    failing.take(on_predicate(failing.state, "a", False, "boom", failing.context()))
    assert failing.state.executions["a"].error == "predicate failed: boom"


def test_predicate_true_starts_the_step_once():
    flow = Flow(script_step("a", "1", predicate="true"), goals=["a"])
    assert flow.take(on_predicate(flow.state, "a", True, None, flow.context())) == [
        "step_started",
        "work_started",
    ]
    assert flow.take(on_predicate(flow.state, "a", True, None, flow.context())) == []


def test_after_the_flow_fails_no_new_step_starts_but_late_work_is_recorded():
    flow = Flow(
        script_step("a", "1", outputs=["x"]),
        script_step("slow", "1", outputs=["y"]),
        script_step("g", "1", requires=["x", "y"]),
        script_step("h", "1", requires=["y"]),
        goals=["g", "h"],
    )
    run_a, run_slow = flow.runs()
    flow.outcome(run_a, Failed("no"))
    assert flow.state.status is FlowStatus.FAILED
    types = flow.outcome(run_slow, Succeeded({"y": 1}))
    # the last running work has ended: nothing is left that can have side effects
    assert types == ["work_succeeded", "attribute_set", "step_completed", "flow_deactivated"]
    assert flow.state.executions["h"].status is StepStatus.PENDING


def test_takeover_claims_dead_instances_work_with_its_tokens():
    flow = Flow(
        script_step("a", "1", outputs=["x"]),
        script_step("b", "1", outputs=["y"], work_config={"init_backoff": 50}),
        script_step("g", "1", requires=["x", "y"]),
        goals=["g"],
    )
    run_a, run_b = flow.runs()
    assert flow.state.executions["a"].work_items[run_a.token].owner == "me"
    flow.outcome(run_b, NotCompleted("503"))
    replayed = fold_flow(flow.log)
    assert on_takeover(replayed, flow.context("other"), lambda owner: False).events == []
    decision = on_takeover(replayed, flow.context("other"), lambda owner: owner == "me")
    assert [(e.type, e.token, e.instance) for e in decision.events] == [
        ("work_started", run_a.token, "other")
    ]
    runs = [e for e in decision.effects if isinstance(e, RunWork)]
    wakes = [e for e in decision.effects if isinstance(e, ScheduleWake)]
    assert [(r.step.id, r.token) for r in runs] == [("a", run_a.token)]
    assert len(wakes) == 1
    assert decision.state.executions["a"].work_items[run_a.token].owner == "other"


def test_folding_the_log_gives_the_live_state():
    flow = Flow(
        script_step("a", "1", outputs=["x"]),
        script_step("g", "1", requires=["x"], outputs=["z"]),
        goals=["g"],
    )
    (run,) = flow.runs()
    flow.outcome(run, Succeeded({"x": 1}))
    (run,) = flow.runs()
    flow.outcome(run, Succeeded({"z": 2}))
    assert fold_flow(flow.log) == flow.state
    assert fold_flow(Event.from_dict(e.to_dict()) for e in flow.log) == flow.state
