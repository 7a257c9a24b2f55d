"""Deciders and concurrency limits: a limited item asks for a slot and starts only once granted."""

from test_decide import Flow

from argyll.decide import (
    AcquireSlot,
    NotCompleted,
    RunWork,
    Succeeded,
    on_slot_granted,
    on_takeover,
    on_wake,
)
from argyll.model import FlowStatus, WorkStatus
from argyll.testing import script_step


def limited(step_id="a", **work_config):
    return script_step(step_id, "1", outputs=["x"], work_config={"concurrency": 2, **work_config})


def asks(flow):
    return [e for e in flow.effects if isinstance(e, AcquireSlot)]


def grant(flow, ask, instance="me", claim_from=""):
    decision = on_slot_granted(
        flow.state, ask.step.id, ask.token, claim_from, flow.context(instance)
    )
    return flow.take(decision)


def test_a_limited_item_stays_pending_until_its_slot_is_granted():
    flow = Flow(limited(), goals=["a"])
    (ask,) = asks(flow)
    assert [e.type for e in flow.log] == ["flow_started", "step_started"]
    assert flow.state.executions["a"].work_items[ask.token].status is WorkStatus.PENDING
    assert not flow.runs()

    assert grant(flow, ask) == ["work_started"]
    (run,) = flow.runs()
    assert (run.token, flow.state.executions["a"].work_items[run.token].owner) == (ask.token, "me")
    assert grant(flow, ask) == []  # already started: the runtime gives the slot back


def test_a_grant_for_an_ended_flow_or_an_unknown_item_starts_nothing():
    flow = Flow(limited(), goals=["a"])
    (ask,) = asks(flow)
    grant(flow, ask)
    flow.outcome(flow.runs()[0], Succeeded({"x": 1}))
    assert flow.state.status is FlowStatus.COMPLETED
    assert grant(flow, ask) == []
    assert flow.take(on_slot_granted(flow.state, "a", "nope", "", flow.context())) == []


def test_a_fan_out_asks_only_within_parallelism_and_a_grant_beyond_it_starts_nothing():
    step = script_step(
        "a", "1", requires=["n"], outputs=["x"], work_config={"concurrency": 5, "parallelism": 2}
    )
    step["attributes"]["n"]["for_each"] = True
    flow = Flow(step, goals=["a"], init={"n": [1, 2, 3]})
    first, second = asks(flow)
    grant(flow, first)
    grant(flow, second)
    third = next(
        t for t in flow.state.executions["a"].work_items if t not in (first.token, second.token)
    )
    assert flow.take(on_slot_granted(flow.state, "a", third, "", flow.context())) == []


def test_a_due_retry_asks_again_and_starts_on_grant():
    flow = Flow(limited(init_backoff=10, backoff_type="fixed"), goals=["a"])
    (ask,) = asks(flow)
    grant(flow, ask)
    flow.outcome(flow.runs()[0], NotCompleted("busy"))
    assert grant(flow, ask) == []  # the retry is not due yet
    flow.clock.advance(10)
    flow.take(on_wake(flow.state, flow.context()))
    (again,) = asks(flow)
    assert grant(flow, again) == ["work_started"]
    assert [run.retry_count for run in flow.runs()] == [1]


def test_a_takeover_asks_for_a_slot_and_claims_only_from_the_dead_owner():
    flow = Flow(limited(), goals=["a"])
    (ask,) = asks(flow)
    grant(flow, ask, instance="dead")
    flow.take(on_takeover(flow.state, flow.context("me"), lambda owner: owner == "dead"))
    (claim,) = asks(flow)
    assert claim.claim_from == "dead"
    assert grant(flow, claim, instance="other", claim_from="someone else") == []
    assert grant(flow, claim, instance="me", claim_from="dead") == ["work_started"]
    assert flow.state.executions["a"].work_items[ask.token].owner == "me"
    assert [type(e) for e in flow.effects] == [RunWork]
