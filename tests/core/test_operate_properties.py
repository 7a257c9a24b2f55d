"""Properties of operating a flow, in the core: operator actions interleaved with work outcomes.

Random catalogs (those of test_transition_properties, plus a step providing an
input the flow's init already gives) are driven through the deciders with
work results, predicates, timers, takeovers and deadlines as there, and now
also pause, resume, cancel, retry and steps completed or skipped by hand, in
any order and in any status. After every decision:

- every status change is a legal move and the fold of the events is the live state;
- nothing starts (no ``step_started``, ``work_started``, run or predicate) unless the
  flow is active: not while it is paused, not after a cancel until a retry;
- no work item's success is taken twice, and a result for a step that has ended
  is recorded alone (nothing is set, nothing starts);
- an action the flow's status refuses raises ConflictError (a bad step or outputs
  ValidationError or NotFoundError) exactly when the rules say, and changes nothing;
- explain covers every step of the plan with a reason that may explain its status,
  says ``manual`` exactly for steps whose ending was an operator's, lists in
  ``not_in_plan`` only steps outside the plan, and is a function of the events.
"""

from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_transition_properties import Driver, flows

from argyll.apply import FLOW_APPLIERS, fold, fold_flow
from argyll.decide import (
    CANCELED_REASON,
    RunWork,
    on_start,
)
from argyll.errors import ConflictError, NotFoundError, ValidationError
from argyll.events import FlowRetried, StepCompleted, StepSkipped
from argyll.explain import MANUAL, REASONS, explain
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
from argyll.planner import plan
from argyll.testing import FakeClock, catalog_of, counter_tokens, script_step

STARTS = frozenset({"step_started", "work_started"})
OPERATIONS = ["pause", "resume", "cancel", "complete", "skip", "retry"]
INIT_PROVIDER = script_step("p", "1", outputs=["in0"])
"""In the catalog, never in a plan: the flow's init gives ``in0`` (explain: satisfied_by_init)."""


class OperatedDriver(Driver):
    """Test_transition_properties' driver, with an operator and the checks above."""

    def __init__(self, steps, goals, init, timeout_ms):  # the base would start its own flow
        self.clock, self.tokens = FakeClock(), counter_tokens()
        self.log, self.live, self.folded = [], None, None
        self.work, self.predicates, self.wakes = {}, {}, []
        self.catalog = catalog_of(*steps, INIT_PROVIDER)
        flow_plan = plan(self.catalog, goals, init)
        self.take(on_start("f", flow_plan, init, self.context("me"), timeout_ms=timeout_ms))

    def take(self, decision):
        state = self.live
        super().take(decision)
        self.effects = decision.effects
        for event in self.log[len(self.log) - len(decision.events) :]:
            if event.type in STARTS:
                assert state.status is FlowStatus.ACTIVE, (event.type, state.status)
            state = fold_flow([event]) if state is None else fold(state, [event], FLOW_APPLIERS)
        if self.live.status is not FlowStatus.ACTIVE:
            runs = [e for e in decision.effects if isinstance(e, RunWork)]
            assert not runs, (self.live.status, runs)
        succeeded = Counter(e.data.token for e in self.log if e.type == "work_succeeded")
        assert all(count == 1 for count in succeeded.values()), succeeded
        check_explanation(self.live, self.log, self.catalog)

    def operations(self):
        return [*self.actions(), *OPERATIONS]

    def answer(self, step_id, token, draw):
        execution = self.live.executions[step_id]
        if token not in execution.work_items:  # an item a retry replaced: nothing to record
            with pytest.raises(NotFoundError):
                super().answer(step_id, token, draw)
            return
        before, length = self.live, len(self.log)
        super().answer(step_id, token, draw)
        if execution.status is not StepStatus.ACTIVE:  # recorded, acted on never
            late = [e.type for e in self.log[length:] if e.type != "flow_deactivated"]
            assert late in ([], ["work_succeeded"], ["work_failed"], ["work_not_completed"])
            assert self.live.attributes == before.attributes
            assert self.effects == []

    def act(self, action, draw):
        if action not in OPERATIONS:
            return super().act(action, draw)
        flow, context = self.live, self.context("me")
        reason = draw(st.sampled_from([None, "ops"]))
        step_ids = [*flow.plan.steps, "nope"]
        match action:
            case "pause":
                refused = None if flow.status is FlowStatus.ACTIVE else ConflictError
                self.operate(refused, lambda: on_pause(flow, "ann", reason, context))
            case "resume":
                refused = None if flow.status is FlowStatus.PAUSED else ConflictError
                self.operate(refused, lambda: on_resume(flow, "ann", reason, context))
            case "cancel":
                refused = ConflictError if flow.status.ended else None
                self.operate(refused, lambda: on_cancel(flow, "ann", reason, context))
            case "complete":
                step_id = draw(st.sampled_from(step_ids))
                outputs = draw(
                    st.sampled_from([{f"a{step_id[1:]}": 2}, {}, {"zz": 1}, {"a0": "text"}])
                )
                refused = by_hand_refusal(flow, step_id, outputs)
                self.operate(
                    refused,
                    lambda: on_complete_step(flow, step_id, outputs, "ann", reason, context),
                )
            case "skip":
                step_id = draw(st.sampled_from(step_ids))
                refused = by_hand_refusal(flow, step_id, None)
                self.operate(refused, lambda: on_skip_step(flow, step_id, "ann", reason, context))
            case "retry":
                steps = tuple(draw(st.lists(st.sampled_from(step_ids), unique=True, max_size=2)))
                refused = retry_refusal(flow, steps)
                redrive = Redrive(steps)
                self.operate(refused, lambda: on_retry(flow, redrive, "ann", reason, context))

    def operate(self, refused, decide):
        """Take the decision, or check that the rules refuse it and nothing changed."""
        before, length = self.live, len(self.log)
        if refused is None:
            self.take(decide())
            return
        with pytest.raises(refused):
            decide()
        assert self.live is before and len(self.log) == length
        assert fold_flow(self.log) == before


def by_hand_refusal(flow, step_id, outputs):
    """The error completing (``outputs``) or skipping (None) ``step_id`` must raise, if any."""
    if step_id not in flow.plan.steps:
        return NotFoundError
    if flow.status.ended or flow.executions[step_id].status.ended:
        return ConflictError
    if outputs is None:
        return None
    step = flow.plan.steps[step_id]
    for name, value in outputs.items():
        if name not in step.outputs:
            return ValidationError
        if step.attributes[name].type == "number" and not isinstance(value, int | float):
            return ValidationError
    return None


def retry_refusal(flow, steps):
    if flow.status not in (FlowStatus.FAILED, FlowStatus.CANCELED):
        return ConflictError
    for step_id in steps:
        if step_id not in flow.plan.steps:
            return ValidationError
        if flow.executions[step_id].status is StepStatus.COMPLETED:
            return ValidationError
    return None


def ended_by_hand(log):
    """The steps whose latest ending (since a retry last ran them again) was an operator's."""
    by_hand = {}
    for event in log:
        data = event.data
        if isinstance(data, FlowRetried):
            for step_id in data.steps:
                by_hand.pop(step_id, None)
        elif isinstance(data, StepCompleted | StepSkipped):
            by_hand[data.step_id] = data.actor is not None
    return {step_id for step_id, manual in by_hand.items() if manual}


def check_explanation(state, log, catalog):
    answer = explain(state, log, catalog)
    assert answer.flow_id == state.id and answer.status is state.status
    assert set(answer.steps) == set(state.plan.steps)
    manual = ended_by_hand(log)
    for step_id, reason in answer.steps.items():
        status = state.executions[step_id].status
        assert reason.status is status
        assert status in REASONS[reason.reason], (step_id, status, reason)
        assert (reason.reason == MANUAL) == (step_id in manual), (step_id, reason)
        if reason.reason == "flow_canceled":
            assert state.executions[step_id].reason == CANCELED_REASON
        if reason.reason == "paused":
            assert state.status is FlowStatus.PAUSED
        if reason.reason in ("queued", "running", "retry_scheduled", "waiting_for_inputs"):
            assert not state.status.ended, (step_id, reason)
        if reason.reason == "running":
            items = state.executions[step_id].work_items.values()
            assert any(item.status is WorkStatus.ACTIVE for item in items)
    assert not set(answer.not_in_plan) & set(state.plan.steps)
    assert set(answer.not_in_plan) <= set(catalog.steps)
    assert explain(fold_flow(log), list(log), catalog) == answer


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flows(), st.sampled_from([None, 25, 400]), st.data())
def test_operator_actions_and_work_outcomes_in_any_order_keep_every_rule(case, timeout, data):
    driver = OperatedDriver(*case, timeout)
    for _ in range(60):
        driver.act(data.draw(st.sampled_from(driver.operations())), data.draw)
    assert fold_flow(driver.log) == driver.live
