"""Operating a flow in the core: pause, resume, cancel, retry, steps resolved by hand, deadlines."""

from datetime import timedelta

import pytest
from test_decide import Flow

from argyll.decide import (
    CANCELED_REASON,
    Failed,
    NotCompleted,
    RunWork,
    ScheduleWake,
    StopWork,
    Succeeded,
    on_start,
    on_takeover,
    on_wake,
)
from argyll.errors import ConflictError, NotFoundError, ValidationError
from argyll.model import FlowStatus, StepStatus, WorkStatus
from argyll.operate import (
    Redrive,
    on_cancel,
    on_complete_step,
    on_pause,
    on_resume,
    on_retry,
    on_skip_step,
)
from argyll.testing import script_step

A = script_step("a", "1", outputs=["x"], types={"x": "number"})
B = script_step("b", "1", requires=["x"], outputs=["y"])
C = script_step("c", "1", requires=["y"], outputs=["z"])
ASYNC = {
    "id": "a",
    "type": "async",
    "attributes": {"x": {"role": "output"}},
    "http": {"endpoint": "http://127.0.0.1:9/a", "callback_timeout": 1000},
    "work_config": {"max_retries": 1, "init_backoff": 0, "backoff_type": "fixed"},
}


def chain() -> Flow:
    return Flow(A, B, C, goals=["c"])


def pause(flow: Flow, reason: str | None = "deploy") -> list[str]:
    return flow.take(on_pause(flow.state, "ann", reason, flow.context()))


def resume(flow: Flow) -> list[str]:
    return flow.take(on_resume(flow.state, "ann", None, flow.context()))


def cancel(flow: Flow) -> list[str]:
    return flow.take(on_cancel(flow.state, "ann", "wrong", flow.context()))


def retry(flow: Flow, **redrive) -> list[str]:
    return flow.take(on_retry(flow.state, Redrive(**redrive), "ann", "again", flow.context()))


# -------------------------------------------------------------- pause, resume


def test_a_paused_flow_records_running_work_and_starts_nothing_until_resumed():
    flow = chain()
    (run_a,) = flow.runs()
    assert pause(flow) == ["flow_paused"]
    assert flow.log[-1].data.actor == "ann" and flow.log[-1].data.reason == "deploy"
    types = flow.outcome(run_a, Succeeded({"x": 1}))
    assert types == ["work_succeeded", "attribute_set", "step_completed"]
    assert flow.state.executions["b"].status is StepStatus.PENDING
    assert flow.state.status is FlowStatus.PAUSED

    assert resume(flow) == ["flow_resumed", "step_started", "work_started"]
    assert [run.step.id for run in flow.runs()] == ["b"]


def test_a_paused_flow_does_not_end_until_resumed():
    flow = Flow(A, goals=["a"])
    (run_a,) = flow.runs()
    pause(flow)
    flow.outcome(run_a, Succeeded({"x": 1}))
    assert flow.state.status is FlowStatus.PAUSED
    assert resume(flow) == ["flow_resumed", "flow_completed", "flow_deactivated"]


def test_a_due_retry_waits_for_the_resume():
    flow = Flow(A, goals=["a"])
    (run_a,) = flow.runs()
    flow.outcome(run_a, NotCompleted("503"))
    pause(flow)
    flow.clock.advance(60_000)
    assert flow.take(on_wake(flow.state, flow.context())) == []
    assert resume(flow) == ["flow_resumed", "work_started"]


@pytest.mark.parametrize("action", [on_pause, on_resume])
def test_pause_and_resume_are_refused_in_the_wrong_status(action):
    flow = Flow(A, goals=["a"])
    if action is on_pause:
        pause(flow)
    with pytest.raises(ConflictError, match="paused" if action is on_pause else "active"):
        action(flow.state, "ann", None, flow.context())


# ------------------------------------------------------------------- cancel


def test_cancel_skips_what_has_not_ended_and_stops_running_scripts():
    flow = chain()
    assert cancel(flow) == ["flow_canceled", "step_skipped", "step_skipped", "step_skipped"]
    assert flow.state.status is FlowStatus.CANCELED
    assert {e.reason for e in flow.state.executions.values()} == {CANCELED_REASON}
    assert flow.effects == [StopWork("f1")]


def test_a_late_result_after_cancel_is_recorded_and_acts_on_nothing():
    flow = chain()
    (run_a,) = flow.runs()
    cancel(flow)
    assert flow.outcome(run_a, Succeeded({"x": 1})) == ["work_succeeded", "flow_deactivated"]
    assert "x" not in flow.state.attributes
    assert flow.effects == []


def test_a_late_transient_failure_after_cancel_schedules_no_retry():
    flow = chain()
    (run_a,) = flow.runs()
    cancel(flow)
    assert flow.outcome(run_a, NotCompleted("503")) == ["work_not_completed", "flow_deactivated"]
    assert flow.effects == []


def test_an_ended_flow_cannot_be_canceled():
    flow = chain()
    cancel(flow)
    with pytest.raises(ConflictError, match="already canceled"):
        on_cancel(flow.state, "ann", None, flow.context())


# -------------------------------------------------------------------- retry


def failed_at_b() -> Flow:
    flow = chain()
    (run_a,) = flow.runs()
    flow.outcome(run_a, Succeeded({"x": 1}))
    (run_b,) = flow.runs()
    flow.outcome(run_b, Failed("bad"))
    assert flow.state.status is FlowStatus.FAILED
    return flow


def test_retry_reruns_what_failed_and_what_failed_because_of_it():
    flow = failed_at_b()
    assert retry(flow) == ["flow_retried", "step_started", "work_started"]
    assert set(flow.log[-3].data.steps) == {"b", "c"}
    assert flow.state.status is FlowStatus.ACTIVE
    assert flow.state.executions["a"].status is StepStatus.COMPLETED
    assert [run.step.id for run in flow.runs()] == ["b"]
    assert flow.runs()[0].token != "t2"  # a fresh token


def test_retry_can_complete_a_step_by_hand_first():
    flow = failed_at_b()
    types = retry(flow, complete={"b": {"y": 7}})
    assert types[:3] == ["flow_retried", "attribute_set", "step_completed"]
    assert flow.state.attributes["y"].value == 7
    assert [run.step.id for run in flow.runs()] == ["c"]


def test_retry_can_skip_a_step_by_hand_first():
    flow = failed_at_b()
    retry(flow, skip=("b",))
    assert flow.state.executions["c"].status is StepStatus.SKIPPED
    assert flow.state.status is FlowStatus.COMPLETED


def test_a_second_retry_is_refused_until_the_flow_fails_again():
    flow = failed_at_b()
    retry(flow)
    with pytest.raises(ConflictError, match="only a failed or canceled flow"):
        on_retry(flow.state, Redrive(), "ann", None, flow.context())
    (run_b,) = flow.runs()
    flow.outcome(run_b, Failed("still bad"))
    assert retry(flow)[0] == "flow_retried"


@pytest.mark.parametrize(
    ("redrive", "field", "reason"),
    [
        (Redrive(steps=("nope",)), "steps[0]", 'unknown step "nope"'),
        (Redrive(steps=("a",)), "steps[0]", "completed; it never runs again"),
        (Redrive(skip=("zz",)), "skip[0]", 'unknown step "zz"'),
        (Redrive(complete={"b": {"q": 1}}), "complete.b.q", "is not an output"),
        (Redrive(complete={"a": {"x": 1}}), "complete.a", "is already completed"),
    ],
)
def test_a_retry_naming_a_wrong_step_or_output_is_refused_naming_it(redrive, field, reason):
    flow = failed_at_b()
    before = flow.state
    with pytest.raises(ValidationError) as caught:
        on_retry(flow.state, redrive, "ann", None, flow.context())
    ((where, why),) = caught.value.problems
    assert where == field and reason in why
    assert flow.state is before


def test_retry_of_a_canceled_flow_reruns_what_the_cancel_stopped():
    flow = chain()
    (run_a,) = flow.runs()
    flow.outcome(run_a, Succeeded({"x": 1}))
    cancel(flow)
    retry(flow)
    assert set(flow.log[-3].data.steps) == {"b", "c"}
    assert flow.state.executions["a"].status is StepStatus.COMPLETED
    assert [run.step.id for run in flow.runs()] == ["b"]


# --------------------------------------------------------------- by hand


def test_a_step_completed_by_hand_carries_the_flow_on():
    flow = chain()
    (run_a,) = flow.runs()
    types = flow.take(on_complete_step(flow.state, "a", {"x": 3}, "ann", "known", flow.context()))
    assert types == ["attribute_set", "step_completed", "step_started", "work_started"]
    completed = flow.log[-3].data
    assert (completed.actor, completed.reason) == ("ann", "known")
    assert flow.outcome(run_a, Succeeded({"x": 99})) == ["work_succeeded"]
    assert flow.state.attributes["x"].value == 3


@pytest.mark.parametrize(
    ("outputs", "field", "reason"),
    [
        ({"nope": 1}, "outputs.nope", 'is not an output of the step ("x")'),
        ({"x": "three"}, "outputs.x", "must be of type number"),
    ],
)
def test_outputs_given_by_hand_must_be_the_steps_outputs(outputs, field, reason):
    flow = chain()
    with pytest.raises(ValidationError) as caught:
        on_complete_step(flow.state, "a", outputs, "ann", None, flow.context())
    assert caught.value.problems == [(field, reason)]


def test_a_step_that_ended_or_is_unknown_cannot_be_resolved_by_hand():
    flow = chain()
    flow.take(on_complete_step(flow.state, "a", {"x": 3}, "ann", None, flow.context()))
    with pytest.raises(ConflictError, match="already completed"):
        on_skip_step(flow.state, "a", "ann", None, flow.context())
    with pytest.raises(NotFoundError):
        on_skip_step(flow.state, "zz", "ann", None, flow.context())


def test_a_step_skipped_by_hand_skips_what_needs_it():
    flow = chain()
    flow.take(on_skip_step(flow.state, "a", "ann", "not today", flow.context()))
    assert flow.state.executions["a"].reason == "not today"
    assert flow.state.status is FlowStatus.COMPLETED  # the goal was skipped: unreachable


def test_nothing_is_resolved_by_hand_in_an_ended_flow():
    flow = chain()
    cancel(flow)
    with pytest.raises(ConflictError, match="already canceled"):
        on_complete_step(flow.state, "b", {"y": 1}, "ann", None, flow.context())


# ---------------------------------------------------------------- deadlines


def test_a_flow_still_running_at_its_deadline_fails_saying_so():
    flow = Flow(A, goals=["a"])
    decision = on_start("f2", flow.plan, {}, flow.context(), timeout_ms=2500)
    deadline = flow.clock.now() + timedelta(milliseconds=2500)
    assert ScheduleWake("f2", deadline) in decision.effects
    state = decision.state
    flow.clock.advance(2500)
    woken = on_wake(state, flow.context())
    assert [type(e).__name__ for e in woken.events] == ["FlowFailed"]
    assert woken.state.error == "flow timed out after 2500 ms"
    assert StopWork("f2") in woken.effects


def test_a_paused_flow_also_times_out():
    flow = Flow(A, goals=["a"])
    state = on_start("f2", flow.plan, {}, flow.context(), timeout_ms=1000).state
    state = on_pause(state, "ann", None, flow.context()).state
    flow.clock.advance(1000)
    assert on_wake(state, flow.context()).state.status is FlowStatus.FAILED


def test_an_async_step_without_its_webhook_in_time_is_retried_under_its_token():
    flow = Flow(ASYNC, goals=["a"])
    (run,) = flow.runs()
    wake = next(e for e in flow.effects if isinstance(e, ScheduleWake))
    assert wake.at == flow.clock.now() + timedelta(seconds=1)
    flow.clock.advance(1000)
    types = flow.take(on_wake(flow.state, flow.context()))
    assert types == ["work_not_completed", "work_retry_scheduled", "work_started"]
    (again,) = [e for e in flow.effects if isinstance(e, RunWork)]
    assert (again.token, again.retry_count) == (run.token, 1)
    flow.clock.advance(1000)
    flow.take(on_wake(flow.state, flow.context()))
    item = flow.state.executions["a"].work_items[run.token]
    assert item.status is WorkStatus.FAILED
    assert item.error == "no webhook within 1000 ms (gave up after 1 retry)"
    assert flow.outcome(run, Succeeded({"x": 1})) == []  # a webhook for the given-up attempt


# ----------------------------------------------------------------- takeover


def test_a_dead_instances_work_in_a_paused_flow_waits_for_the_resume():
    flow = Flow(A, goals=["a"])
    pause(flow)
    assert flow.take(on_takeover(flow.state, flow.context("other"), lambda owner: True)) == []


def test_a_dead_instances_work_is_not_taken_over_after_a_cancel():
    flow = chain()
    cancel(flow)
    decision = on_takeover(flow.state, flow.context("heir"), lambda owner: owner == "me")
    assert decision.events == [] and decision.effects == []


def test_a_resumed_flow_takes_over_a_dead_instances_work():
    flow = chain()
    (run_a,) = flow.runs()
    pause(flow)
    resume(flow)
    types = flow.take(on_takeover(flow.state, flow.context("heir"), lambda owner: owner == "me"))
    assert types == ["work_started"]
    assert [run.token for run in flow.runs()] == [run_a.token]
