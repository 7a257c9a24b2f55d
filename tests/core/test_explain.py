"""Explain: why each planned step is where it is, from the flow's events (and the catalog)."""

from test_decide import Flow

from argyll.decide import (
    Failed,
    NotCompleted,
    Succeeded,
)
from argyll.explain import describe, explain
from argyll.operate import (
    Redrive,
    on_cancel,
    on_pause,
    on_retry,
    on_skip_step,
)
from argyll.testing import catalog_of, script_step

A = script_step("a", "1", outputs=["x"], types={"x": "number"})
B = script_step("b", "1", requires=["x"], outputs=["y"])
C = script_step("c", "1", requires=["y"], outputs=["z"])


def pause(flow: Flow) -> None:
    flow.take(on_pause(flow.state, "ann", None, flow.context()))


def cancel(flow: Flow) -> None:
    flow.take(on_cancel(flow.state, "ann", None, flow.context()))


def retry(flow: Flow, **redrive) -> None:
    flow.take(on_retry(flow.state, Redrive(**redrive), "ann", None, flow.context()))


def failed_at_b() -> Flow:
    flow = Flow(A, B, C, goals=["c"])
    (run_a,) = flow.runs()
    flow.outcome(run_a, Succeeded({"x": 1}))
    (run_b,) = flow.runs()
    flow.outcome(run_b, Failed("bad"))
    return flow


def reasons(flow: Flow, *extra) -> dict[str, str]:
    answer = explain(flow.state, flow.log, catalog_of(A, B, C, *extra))
    return {step_id: reason.reason for step_id, reason in answer.steps.items()}


def entry(flow: Flow, step_id: str) -> dict:
    return explain(flow.state, flow.log, catalog_of(A, B, C)).to_dict()["steps"][step_id]


def test_a_running_chain_says_what_runs_and_what_waits_for_which_input():
    flow = Flow(A, B, C, goals=["c"])
    assert reasons(flow) == {"a": "running", "b": "waiting_for_inputs", "c": "waiting_for_inputs"}
    waiting = entry(flow, "b")
    assert waiting["detail"] == {"inputs": {"x": {"providers": {"a": "active"}}}}
    assert describe("b", waiting, {"a": "Alpha"}) == 'waiting for "x" from Alpha (active)'


def test_a_transient_failure_says_when_the_retry_is_due():
    flow = Flow(A, B, C, goals=["c"])
    (run_a,) = flow.runs()
    flow.outcome(run_a, NotCompleted("503"))
    retrying = entry(flow, "a")
    assert retrying["reason"] == "retry_scheduled"
    assert retrying["detail"]["attempts"] == 1 and retrying["detail"]["error"] == "503"


def test_a_paused_flow_says_paused_only_for_steps_that_could_start():
    flow = Flow(A, B, C, goals=["c"])
    (run_a,) = flow.runs()
    pause(flow)
    flow.outcome(run_a, Succeeded({"x": 1}))
    assert reasons(flow) == {"a": "ran", "b": "paused", "c": "waiting_for_inputs"}


def test_a_failed_flow_names_the_error_and_what_it_left_unreachable_or_unstarted():
    flow = failed_at_b()
    assert reasons(flow) == {"a": "ran", "b": "failed", "c": "inputs_unreachable"}
    assert entry(flow, "b")["detail"] == {"error": "bad", "attempts": 1}


def test_a_canceled_flow_says_canceled_and_a_step_skipped_by_hand_says_who():
    flow = Flow(A, B, C, goals=["c"])
    flow.take(on_skip_step(flow.state, "a", "ann", "not today", flow.context()))
    assert reasons(flow) == {"a": "manual", "b": "inputs_unreachable", "c": "inputs_unreachable"}
    assert entry(flow, "a")["detail"] == {"actor": "ann", "reason": "not today"}

    flow = Flow(A, B, C, goals=["c"])
    cancel(flow)
    assert set(reasons(flow).values()) == {"flow_canceled"}


def test_a_step_a_retry_ran_again_says_nothing_of_its_earlier_run():
    flow = Flow(A, B, C, goals=["b", "c"])
    (run_a,) = flow.runs()
    flow.take(on_skip_step(flow.state, "c", "ann", None, flow.context()))
    flow.outcome(run_a, NotCompleted("503"))
    cancel(flow)
    assert reasons(flow)["c"] == "manual"
    retry(flow, steps=("a", "c"))
    assert entry(flow, "a")["detail"]["attempts"] == 1  # its attempts of this run
    assert reasons(flow)["c"] == "waiting_for_inputs"  # no longer "skipped by hand"
    retry_c_only = Flow(A, B, C, goals=["b", "c"])
    retry_c_only.take(on_skip_step(retry_c_only.state, "c", "ann", None, retry_c_only.context()))
    cancel(retry_c_only)
    retry(retry_c_only, steps=("c",))
    assert reasons(retry_c_only)["c"] == "inputs_unreachable"


def test_providers_left_out_of_the_plan_say_why():
    given = script_step("g", "1", outputs=["x"])
    flow = Flow(A, B, C, goals=["c"], init={"x": 1})
    answer = explain(flow.state, flow.log, catalog_of(A, B, C, given))
    assert {k: r.reason for k, r in answer.not_in_plan.items()} == {
        "a": "satisfied_by_init",
        "g": "satisfied_by_init",
    }
