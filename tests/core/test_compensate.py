"""Compensation and deactivation deciders: order, one at a time, retries, cancel, the end."""

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from argyll.apply import FLOW_APPLIERS, fold, fold_flow
from argyll.compensate import RunCompensation
from argyll.decide import (
    Context,
    Failed,
    NotCompleted,
    Policy,
    RunWork,
    ScheduleWake,
    Succeeded,
    on_compensation,
    on_start,
    on_takeover,
    on_wake,
    on_work_outcome,
)
from argyll.errors import ConflictError
from argyll.events import CompStarted, Event, flow_aggregate
from argyll.model import FlowStatus, WorkStatus, parse_step
from argyll.operate import Redrive, on_cancel, on_retry
from argyll.outbound import parse_policy, step_problems
from argyll.planner import plan
from argyll.testing import FakeClock, catalog_of, counter_tokens

BACKOFF = {"max_retries": 2, "init_backoff": 100, "max_backoff": 1000, "backoff_type": "linear"}


def step(step_id, requires, output, *, compensate=True, for_each=False):
    attributes = {requires: {"role": "required", "for_each": for_each}, output: {"role": "output"}}
    http = {"endpoint": f"http://svc/{step_id}"}
    if compensate:
        http["compensate"] = f"http://svc/undo/{step_id}/{{{output}}}"
    return {
        "id": step_id,
        "type": "sync",
        "attributes": attributes,
        "http": http,
        "work_config": BACKOFF,
    }


class Flow:
    """One flow driven through the deciders and folded as the runtime would."""

    def __init__(self, *steps, goals, init):
        self.clock, self.tokens = FakeClock(), counter_tokens()
        self.log, self.effects, self.state = [], [], None
        self.take(on_start("f1", plan(catalog_of(*steps), goals, init), init, self.context()))

    def context(self, instance="me"):
        return Context(self.clock.now(), self.tokens, instance, Policy(max_retries=2))

    def take(self, decision):
        first = self.state.version if self.state else 0
        assert decision.expected == first
        now = self.clock.now()
        events = [
            Event(flow_aggregate("f1"), first + n + 1, now, data)
            for n, data in enumerate(decision.events)
        ]
        self.state = (
            fold_flow(events) if self.state is None else fold(self.state, events, FLOW_APPLIERS)
        )
        assert decision.state == self.state
        self.log += events
        self.effects = decision.effects
        return [event.type for event in events]

    def run(self, step_id):
        return next(e for e in self.effects if isinstance(e, RunWork) and e.step.id == step_id)

    def work(self, effect, outcome):
        return self.take(
            on_work_outcome(self.state, effect.step.id, effect.token, outcome, self.context())
        )

    def undoing(self):
        return [e for e in self.effects if isinstance(e, RunCompensation)]

    def undone(self, outcome, instance="me"):
        (call,) = self.undoing()
        decision = on_compensation(
            self.state, call.step.id, call.token, outcome, self.context(instance)
        )
        return self.take(decision)

    def item(self, step_id):
        (item,) = self.state.executions[step_id].work_items.values()
        return item


def shop():
    """pay -> hold -> reserve, each waiting for the one before; reserve is the goal."""
    flow = Flow(
        step("pay", "amount", "charge"),
        step("hold", "charge", "hold_id"),
        step("reserve", "hold_id", "reservation", compensate=False),
        goals=["reserve"],
        init={"amount": 3},
    )
    flow.work(flow.run("pay"), Succeeded({"charge": "c1"}))
    flow.work(flow.run("hold"), Succeeded({"hold_id": "h1"}))
    return flow


def test_a_failed_flow_undoes_its_work_latest_first_one_call_at_a_time():
    flow = shop()
    types = flow.work(flow.run("reserve"), Failed("HTTP 409: out of stock"))
    assert types[-2:] == ["flow_failed", "comp_started"]
    (call,) = flow.undoing()
    assert (call.step.id, call.inputs, call.outputs) == (
        "hold",
        {"charge": "c1"},
        {"hold_id": "h1"},
    )
    assert flow.item("hold").status is WorkStatus.COMPENSATING
    assert flow.item("pay").status is WorkStatus.SUCCEEDED  # waits for the hold's undoing

    assert flow.undone(Succeeded({})) == ["comp_succeeded", "comp_started"]
    (call,) = flow.undoing()
    assert call.step.id == "pay" and call.outputs == {"charge": "c1"}
    assert flow.undone(Succeeded({})) == ["comp_succeeded", "flow_deactivated"]
    assert flow.state.deactivated_at == flow.clock.now()
    assert flow.state.to_dict()["compensation"]["status"] == "compensated"


def test_the_failing_steps_own_succeeded_items_are_undone_in_reverse_completion_order():
    flow = Flow(
        step("charge", "cards", "receipt", for_each=True),
        goals=["charge"],
        init={"cards": [1, 2, 3]},
    )
    runs = [e for e in flow.effects if isinstance(e, RunWork)]
    assert len(runs) == 1  # parallelism 1: one item at a time
    flow.work(runs[0], Succeeded({"receipt": "r1"}))
    second = flow.run("charge")
    flow.work(second, Succeeded({"receipt": "r2"}))
    flow.work(flow.run("charge"), Failed("HTTP 402: declined"))
    assert flow.state.status is FlowStatus.FAILED
    order = []
    while flow.undoing():
        order.append(flow.undoing()[0].outputs["receipt"])
        flow.undone(Succeeded({}))
    assert order == ["r2", "r1"]
    assert flow.state.deactivated_at is not None


def test_a_compensation_that_does_not_complete_is_retried_with_backoff_then_fails():
    flow = shop()
    flow.work(flow.run("reserve"), Failed("no"))
    assert flow.undone(NotCompleted("HTTP 503: busy")) == ["comp_retry_scheduled"]
    due = flow.clock.now() + timedelta(milliseconds=100)
    assert flow.effects == [ScheduleWake("f1", due)]
    hold = flow.item("hold")
    assert (hold.status, hold.retry_count, hold.next_retry_at) == (WorkStatus.COMPENSATING, 1, due)
    assert flow.take(on_wake(flow.state, flow.context())) == []  # not yet due
    flow.clock.advance(100)
    assert flow.take(on_wake(flow.state, flow.context())) == ["comp_started"]
    assert flow.undone(NotCompleted("HTTP 503: busy")) == ["comp_retry_scheduled"]
    assert flow.effects == [ScheduleWake("f1", flow.clock.now() + timedelta(milliseconds=200))]
    flow.clock.advance(200)
    flow.take(on_wake(flow.state, flow.context()))
    # max_retries 2 are used up: failed for good, and the next item is undone all the same
    assert flow.undone(NotCompleted("HTTP 503: busy")) == ["comp_failed", "comp_started"]
    assert flow.item("hold").status is WorkStatus.COMPENSATION_FAILED
    assert flow.item("hold").error == "HTTP 503: busy (retries used up: 2)"
    assert flow.undone(Succeeded({})) == ["comp_succeeded", "flow_deactivated"]
    summary = flow.state.to_dict()["compensation"]
    assert summary["status"] == "failed" and summary["failed"] == 1 and summary["compensated"] == 1


def test_a_4xx_fails_the_compensation_at_once():
    flow = shop()
    flow.work(flow.run("reserve"), Failed("no"))
    assert flow.undone(Failed("HTTP 404: no such hold")) == ["comp_failed", "comp_started"]
    assert flow.item("hold").error == "HTTP 404: no such hold"


def test_a_repeated_result_changes_nothing():
    flow = shop()
    flow.work(flow.run("reserve"), Failed("no"))
    (call,) = flow.undoing()
    flow.undone(Succeeded({}))
    again = on_compensation(flow.state, call.step.id, call.token, Succeeded({}), flow.context())
    assert flow.take(again) == []


def test_cancel_undoes_what_succeeded_and_deactivates_after():
    flow = Flow(
        step("pay", "amount", "charge"),
        step("ship", "charge", "parcel"),
        goals=["ship"],
        init={"amount": 1},
    )
    flow.work(flow.run("pay"), Succeeded({"charge": "c1"}))
    ship = flow.run("ship")
    types = flow.take(on_cancel(flow.state, "ann", "changed my mind", flow.context()))
    assert types == ["flow_canceled", "step_skipped", "comp_started"]
    assert flow.undone(Succeeded({})) == ["comp_succeeded"]  # ship's call may still answer
    # the late success is undone too, then nothing can have side effects any more
    assert flow.work(ship, Succeeded({"parcel": "p1"})) == ["work_succeeded", "comp_started"]
    assert flow.undone(Succeeded({})) == ["comp_succeeded", "flow_deactivated"]


def test_a_completed_flow_keeps_its_work_and_deactivates_when_it_ends():
    flow = Flow(step("pay", "amount", "charge"), goals=["pay"], init={"amount": 1})
    types = flow.work(flow.run("pay"), Succeeded({"charge": "c1"}))
    assert types[-2:] == ["flow_completed", "flow_deactivated"]
    assert "compensation" not in flow.state.to_dict()


def test_a_flow_without_compensable_steps_deactivates_once_its_late_work_ends():
    flow = Flow(
        step("a", "x", "y", compensate=False),
        step("b", "x", "z", compensate=False),
        step("g", "y", "w", compensate=False),
        step("h", "z", "v", compensate=False),
        goals=["g", "h"],
        init={"x": 1},
    )
    slow = flow.run("b")
    assert flow.work(flow.run("a"), Failed("no"))[-1] == "flow_failed"
    assert flow.state.deactivated_at is None  # b's call is still running
    assert flow.work(slow, Succeeded({"z": 1}))[-1] == "flow_deactivated"


def test_retry_is_refused_once_compensation_began():
    flow = shop()
    flow.work(flow.run("reserve"), Failed("no"))
    with pytest.raises(ConflictError, match="compensated"):
        on_retry(flow.state, Redrive(), "ann", None, flow.context())


def test_a_failed_flow_with_nothing_to_undo_can_still_be_retried():
    flow = Flow(step("a", "x", "y", compensate=False), goals=["a"], init={"x": 1})
    assert flow.work(flow.run("a"), Failed("no"))[-2:] == ["flow_failed", "flow_deactivated"]
    assert (
        flow.take(on_retry(flow.state, Redrive(), "ann", None, flow.context()))[0] == "flow_retried"
    )
    assert flow.state.deactivated_at is None and flow.state.status is FlowStatus.ACTIVE


def test_a_dead_instances_compensation_is_made_again_a_live_ones_is_left():
    flow = shop()
    flow.work(flow.run("reserve"), Failed("no"))
    assert flow.take(on_takeover(flow.state, flow.context("other"), lambda owner: False)) == []
    types = flow.take(on_takeover(flow.state, flow.context("other"), lambda owner: owner == "me"))
    assert types == ["comp_started"]
    (call,) = flow.undoing()
    assert call.step.id == "hold" and flow.item("hold").owner == "other"


def test_a_compensate_url_outside_the_outbound_policy_is_refused():
    definition = step("pay", "amount", "charge")
    definition["http"]["compensate"] = "http://elsewhere.example/undo"
    problems = step_problems(parse_policy(["svc"]), parse_step(definition))
    assert [field for field, _ in problems] == ["http.compensate"]


@settings(max_examples=80, deadline=None)
@given(st.data())
def test_any_outcomes_undo_every_success_latest_first_and_one_at_a_time(data):
    cards = list(range(data.draw(st.integers(1, 4))))
    fan = step("charge", "cards", "receipt", for_each=True)
    fan["work_config"] = {**BACKOFF, "parallelism": len(cards)}
    flow = Flow(fan, goals=["charge"], init={"cards": cards})
    runs = [e for e in flow.effects if isinstance(e, RunWork)]
    for run in data.draw(st.permutations(runs)):
        outcome = data.draw(
            st.sampled_from([Succeeded({"receipt": run.token}), Failed("HTTP 402")])
        )
        flow.work(run, outcome)
    outcomes = st.sampled_from([Succeeded({}), Failed("HTTP 400"), NotCompleted("HTTP 503")])
    while (current := _compensating(flow)) is not None:
        token, item = current
        if item.next_retry_at is not None:
            flow.clock.advance(1000)
            flow.take(on_wake(flow.state, flow.context()))
            continue
        decision = on_compensation(flow.state, "charge", token, data.draw(outcomes), flow.context())
        flow.take(decision)
    _check_order(flow.log)
    items = flow.state.executions["charge"].work_items.values()
    left = {WorkStatus.SUCCEEDED} if flow.state.status is FlowStatus.FAILED else set()
    assert not left & {item.status for item in items}
    assert flow.state.deactivated_at is not None
    assert fold_flow(flow.log) == flow.state


def _compensating(flow):
    items = flow.state.executions["charge"].work_items.items()
    return next(((t, i) for t, i in items if i.status is WorkStatus.COMPENSATING), None)


def _check_order(log):
    """Each compensation starts alone, on the latest-completed item still to be undone."""
    state = fold_flow(log[:1])
    for event in log[1:]:
        items = state.executions["charge"].work_items
        if (
            isinstance(event.data, CompStarted)
            and items[event.data.token].status is WorkStatus.SUCCEEDED
        ):
            waiting = [i.completed_seq for i in items.values() if i.status is WorkStatus.SUCCEEDED]
            assert items[event.data.token].completed_seq == max(waiting)
        state = fold(state, [event], FLOW_APPLIERS)
        busy = [
            i
            for i in state.executions["charge"].work_items.values()
            if i.status is WorkStatus.COMPENSATING
        ]
        assert len(busy) <= 1
