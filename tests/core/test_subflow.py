"""Sub-flow rules: the child a flow step's item starts, its end as the item's result, and
which children a parent's end cancels. Pure: parent and child are driven by the deciders."""

from dataclasses import replace

from argyll import subflow
from argyll.apply import FLOW_APPLIERS, fold, fold_flow
from argyll.decide import (
    Context,
    Decision,
    Failed,
    RunWork,
    Succeeded,
    on_predicate,
    on_start,
    on_wake,
)
from argyll.decide import on_work_outcome as outcome_of
from argyll.events import ANONYMOUS, Event, FlowStarted, flow_aggregate
from argyll.model import (
    ID_PATTERN,
    FlowID,
    FlowStatus,
    ParentRef,
    StepID,
    StepStatus,
    Token,
    WorkStatus,
)
from argyll.operate import on_cancel
from argyll.planner import plan
from argyll.testing import FakeClock, catalog_of, counter_tokens, script_step


def flow_step(step_id, goals, *, requires=(), outputs=(), renames=None):
    """A ``type: "flow"`` step; ``renames`` gives attributes their child (inner) names."""
    renames = renames or {}
    attributes = {}
    for role, names in (("required", requires), ("output", outputs)):
        for name in names:
            attributes[name] = {"role": role}
            if name in renames:
                attributes[name][role] = {"mapping": {"name": renames[name]}}
    return {"id": step_id, "type": "flow", "flow": {"goals": list(goals)}, "attributes": attributes}


DOUBLE = script_step("double", "{:y (* x 2)}", requires=["x"], outputs=["y"])
SUB = flow_step("sub", ["double"], requires=["x"], outputs=["y"])


class Driven:
    """One flow driven through the deciders, folded as the runtime folds it."""

    def __init__(self, decision: Decision, flow_id: str, clock: FakeClock, tokens) -> None:
        self.clock, self.tokens, self.flow_id = clock, tokens, flow_id
        self.state = None
        self.take(decision)

    def context(self) -> Context:
        return Context(self.clock.now(), self.tokens, "me")

    def take(self, decision: Decision) -> Decision:
        first = self.state.version if self.state else 0
        events = [
            Event(flow_aggregate(self.flow_id), first + i + 1, self.clock.now(), data)
            for i, data in enumerate(decision.events)
        ]
        self.state = (
            fold_flow(events) if self.state is None else fold(self.state, events, FLOW_APPLIERS)
        )
        self.runs = [e for e in decision.effects if isinstance(e, RunWork)]
        return decision

    def answer(self, run: RunWork, outcome) -> Decision:
        return self.take(outcome_of(self.state, run.step.id, run.token, outcome, self.context()))


def start_parent(*steps, goals, init, timeout_ms=None):
    clock, tokens = FakeClock(), counter_tokens()
    parent_plan = plan(catalog_of(*steps), goals, init)
    context = Context(clock.now(), tokens, "me")
    return Driven(
        on_start("p", parent_plan, init, context, timeout_ms=timeout_ms), "p", clock, tokens
    )


def start_child(parent: Driven, run: RunWork) -> Driven:
    child = subflow.child_flow(parent.state, run)
    assert isinstance(child, subflow.ChildFlow)
    decision = on_start(
        child.flow_id, child.plan, child.init, parent.context(), parent=child.parent
    )
    return Driven(decision, child.flow_id, parent.clock, parent.tokens)


def run_of(driven: Driven, step_id: str) -> RunWork:
    (run,) = [r for r in driven.runs if r.step.id == step_id]
    return run


# ------------------------------------------------------------------ the child


def test_child_id_is_valid_and_the_same_for_the_same_item():
    first = subflow.child_flow_id(FlowID("p"), StepID("sub"), Token("tok"))
    assert first == subflow.child_flow_id(FlowID("p"), StepID("sub"), Token("tok"))
    assert ID_PATTERN.fullmatch(first)
    assert first.startswith("p.sub.")
    assert "tok" not in first.removeprefix("p.sub.")
    others = {
        subflow.child_flow_id(FlowID("p"), StepID("sub"), Token("other")),
        subflow.child_flow_id(FlowID("q"), StepID("sub"), Token("tok")),
        subflow.child_flow_id(FlowID("p"), StepID("sub2"), Token("tok")),
    }
    assert first not in others and len(others) == 3


def test_a_flow_step_item_starts_the_child_planned_with_the_parent():
    parent = start_parent(DOUBLE, SUB, goals=["sub"], init={"x": 4})
    run = run_of(parent, "sub")
    child = subflow.child_flow(parent.state, run)
    assert child == subflow.ChildFlow(
        subflow.child_flow_id(FlowID("p"), StepID("sub"), run.token),
        parent.state.plan.children[StepID("sub")],
        {"x": 4},
        ParentRef(FlowID("p"), StepID("sub"), run.token),
    )
    assert list(child.plan.steps) == ["double"]


def test_the_child_state_names_its_parent_and_the_start_round_trips():
    parent = start_parent(DOUBLE, SUB, goals=["sub"], init={"x": 4})
    run = run_of(parent, "sub")
    child = start_child(parent, run)
    assert child.state.parent == ParentRef(FlowID("p"), StepID("sub"), run.token)
    assert child.state.to_dict()["parent"] == {"flow_id": "p", "step_id": "sub", "token": run.token}
    started = FlowStarted(child.state.id, child.state.plan, {"x": 4}, parent=child.state.parent)
    assert FlowStarted.from_dict(started.to_dict()) == started


def test_a_flow_without_parent_writes_none():
    started = FlowStarted(FlowID("f"), plan(catalog_of(DOUBLE), ["double"], {"x": 1}), {"x": 1})
    assert "parent" not in started.to_dict()
    assert FlowStarted.from_dict(started.to_dict()).parent is None


def test_a_flow_step_without_a_child_plan_fails_its_item():
    parent = start_parent(DOUBLE, SUB, goals=["sub"], init={"x": 4})
    run = run_of(parent, "sub")
    unplanned = replace(parent.state, plan=replace(parent.state.plan, children={}))
    assert subflow.child_flow(unplanned, run) == Failed("sub-flow step 'sub' has no child plan")


# --------------------------------------------------------------- its outcome


def test_a_completed_child_completes_the_item_with_its_attributes():
    parent = start_parent(DOUBLE, SUB, goals=["sub"], init={"x": 4})
    run = run_of(parent, "sub")
    child = start_child(parent, run)
    child.answer(run_of(child, "double"), Succeeded({"y": 8}))
    assert child.state.status is FlowStatus.COMPLETED
    outcome = subflow.child_outcome(run.step, child.state)
    assert outcome == Succeeded({"x": 4, "y": 8})
    parent.answer(run, outcome)
    assert parent.state.status is FlowStatus.COMPLETED
    assert parent.state.attributes["y"].value == 8
    assert parent.state.attributes["y"].step == "sub"


def test_outputs_are_read_under_their_inner_names():
    renamed = flow_step(
        "sub", ["double"], requires=["x"], outputs=["doubled"], renames={"doubled": "y"}
    )
    parent = start_parent(DOUBLE, renamed, goals=["sub"], init={"x": 4})
    run = run_of(parent, "sub")
    child = start_child(parent, run)
    child.answer(run_of(child, "double"), Succeeded({"y": 8}))
    assert subflow.child_outcome(run.step, child.state) == Succeeded({"x": 4, "y": 8})


def test_a_child_that_did_not_produce_an_output_fails_the_item():
    maybe = script_step("double", "{:y (* x 2)}", requires=["x"], outputs=["y"], predicate="false")
    parent = start_parent(maybe, SUB, goals=["sub"], init={"x": 4})
    run = run_of(parent, "sub")
    child = start_child(parent, run)
    child.take(on_predicate(child.state, "double", False, None, child.context()))
    assert child.state.status is FlowStatus.COMPLETED
    assert subflow.child_outcome(run.step, child.state) == Failed(
        f"child flow {child.flow_id!r} did not produce 'y'"
    )


def test_a_failed_child_fails_the_item_with_its_error_and_the_parent_step():
    parent = start_parent(DOUBLE, SUB, goals=["sub"], init={"x": 4})
    run = run_of(parent, "sub")
    child = start_child(parent, run)
    child.answer(run_of(child, "double"), Failed("boom"))
    outcome = subflow.child_outcome(run.step, child.state)
    assert outcome == Failed("goal step 'double' failed: boom")
    parent.answer(run, outcome)
    assert parent.state.executions[StepID("sub")].status is StepStatus.FAILED
    assert parent.state.executions[StepID("sub")].error == "goal step 'double' failed: boom"
    assert parent.state.status is FlowStatus.FAILED


def test_a_canceled_child_fails_the_item_and_a_running_one_gives_nothing_yet():
    parent = start_parent(DOUBLE, SUB, goals=["sub"], init={"x": 4})
    run = run_of(parent, "sub")
    child = start_child(parent, run)
    assert subflow.child_outcome(run.step, child.state) is None
    child.take(on_cancel(child.state, "ann", None, child.context()))
    assert subflow.child_outcome(run.step, child.state) == Failed(subflow.CHILD_CANCELED)


# ------------------------------------------------------ the parent's end


def test_canceling_the_parent_cancels_its_running_children_as_the_same_actor():
    parent = start_parent(DOUBLE, SUB, goals=["sub"], init={"x": 4})
    run = run_of(parent, "sub")
    decision = parent.take(on_cancel(parent.state, "ann", "no longer needed", parent.context()))
    assert subflow.children_to_stop(decision) == subflow.StopChildren(
        (subflow.child_flow_id(FlowID("p"), StepID("sub"), run.token),),
        "ann",
        "parent flow 'p' canceled",
    )


def test_a_failing_parent_cancels_the_children_of_its_other_branches():
    failing = script_step("bad", "1", outputs=["w"])
    parent = start_parent(DOUBLE, SUB, failing, goals=["sub", "bad"], init={"x": 4})
    run = run_of(parent, "sub")
    decision = parent.answer(run_of(parent, "bad"), Failed("no"))
    assert parent.state.status is FlowStatus.FAILED
    stop = subflow.children_to_stop(decision)
    assert stop is not None
    assert stop.children == (subflow.child_flow_id(FlowID("p"), StepID("sub"), run.token),)
    assert (stop.actor, stop.reason) == (ANONYMOUS, "parent flow 'p' failed")


def test_a_timed_out_parent_cancels_its_children():
    parent = start_parent(DOUBLE, SUB, goals=["sub"], init={"x": 4}, timeout_ms=1000)
    parent.clock.advance(2000)
    decision = parent.take(on_wake(parent.state, parent.context()))
    assert parent.state.status is FlowStatus.FAILED
    assert subflow.children_to_stop(decision) is not None


def test_nothing_is_canceled_without_an_end_or_without_open_children():
    other = script_step("other", "1", outputs=["w"])
    parent = start_parent(DOUBLE, SUB, other, goals=["sub", "other"], init={"x": 4})
    run = run_of(parent, "sub")
    assert subflow.children_to_stop(parent.answer(run, Succeeded({"y": 8}))) is None
    assert (
        parent.state.executions[StepID("sub")].work_items[run.token].status is WorkStatus.SUCCEEDED
    )
    decision = parent.take(on_cancel(parent.state, "ann", None, parent.context()))
    assert subflow.children_to_stop(decision) is None


def test_a_child_is_orphaned_once_its_parent_failed_or_was_canceled():
    parent = start_parent(DOUBLE, SUB, goals=["sub"], init={"x": 4})
    child = start_child(parent, run_of(parent, "sub"))
    assert not subflow.orphaned(child.state, parent.state)
    parent.take(on_cancel(parent.state, "ann", None, parent.context()))
    assert subflow.orphaned(child.state, parent.state)
    child.take(on_cancel(child.state, "ann", None, child.context()))
    assert not subflow.orphaned(child.state, parent.state)
    assert subflow.children([parent.state, child.state]) == [child.state]
