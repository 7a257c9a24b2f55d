"""The status transition tables, and the appliers refusing the moves they forbid."""

from datetime import UTC, datetime, timedelta

import pytest

from argyll.apply import FLOW_APPLIERS, fold, fold_flow
from argyll.errors import TransitionError
from argyll.events import (
    AttributeSet,
    Event,
    FlowCompleted,
    FlowFailed,
    FlowPaused,
    FlowResumed,
    FlowRetried,
    FlowStarted,
    StepCompleted,
    StepFailed,
    StepSkipped,
    StepStarted,
    WorkFailed,
    WorkNotCompleted,
    WorkRetryScheduled,
    WorkStarted,
    WorkSucceeded,
    flow_aggregate,
)
from argyll.model import Execution, FlowStatus, StepStatus, WorkItem, WorkStatus
from argyll.planner import plan
from argyll.testing import catalog_of, script_step
from argyll.transitions import (
    FLOW_TRANSITIONS,
    STEP_TRANSITIONS,
    WORK_TRANSITIONS,
    can_transition,
    transition_error,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)
F, S, W = FlowStatus, StepStatus, WorkStatus

LEGAL = [
    (FLOW_TRANSITIONS, None, F.ACTIVE),
    (FLOW_TRANSITIONS, F.ACTIVE, F.COMPLETED),
    (FLOW_TRANSITIONS, F.ACTIVE, F.FAILED),
    (FLOW_TRANSITIONS, F.ACTIVE, F.PAUSED),
    (FLOW_TRANSITIONS, F.ACTIVE, F.CANCELED),
    (FLOW_TRANSITIONS, F.PAUSED, F.ACTIVE),
    (FLOW_TRANSITIONS, F.PAUSED, F.FAILED),
    (FLOW_TRANSITIONS, F.PAUSED, F.CANCELED),
    (FLOW_TRANSITIONS, F.FAILED, F.ACTIVE),
    (FLOW_TRANSITIONS, F.CANCELED, F.ACTIVE),
    (STEP_TRANSITIONS, None, S.PENDING),
    (STEP_TRANSITIONS, S.PENDING, S.ACTIVE),
    (STEP_TRANSITIONS, S.PENDING, S.SKIPPED),
    (STEP_TRANSITIONS, S.PENDING, S.FAILED),
    (STEP_TRANSITIONS, S.PENDING, S.COMPLETED),
    (STEP_TRANSITIONS, S.ACTIVE, S.COMPLETED),
    (STEP_TRANSITIONS, S.ACTIVE, S.FAILED),
    (STEP_TRANSITIONS, S.ACTIVE, S.SKIPPED),
    (STEP_TRANSITIONS, S.SKIPPED, S.PENDING),
    (STEP_TRANSITIONS, S.FAILED, S.PENDING),
    (WORK_TRANSITIONS, None, W.PENDING),
    (WORK_TRANSITIONS, W.PENDING, W.ACTIVE),
    (WORK_TRANSITIONS, W.ACTIVE, W.ACTIVE),
    (WORK_TRANSITIONS, W.ACTIVE, W.SUCCEEDED),
    (WORK_TRANSITIONS, W.ACTIVE, W.FAILED),
    (WORK_TRANSITIONS, W.ACTIVE, W.NOT_COMPLETED),
    (WORK_TRANSITIONS, W.NOT_COMPLETED, W.ACTIVE),
    (WORK_TRANSITIONS, W.NOT_COMPLETED, W.SUCCEEDED),
    (WORK_TRANSITIONS, W.NOT_COMPLETED, W.FAILED),
    (WORK_TRANSITIONS, W.SUCCEEDED, W.COMPENSATING),
    (WORK_TRANSITIONS, W.COMPENSATING, W.COMPENSATING),
    (WORK_TRANSITIONS, W.COMPENSATING, W.COMPENSATED),
    (WORK_TRANSITIONS, W.COMPENSATING, W.COMPENSATION_FAILED),
]

TABLES = [(FLOW_TRANSITIONS, F), (STEP_TRANSITIONS, S), (WORK_TRANSITIONS, W)]


def moves_of(table, statuses):
    return [(table, source, target) for source in [None, *statuses] for target in statuses]


@pytest.mark.parametrize(("table", "source", "target"), LEGAL)
def test_each_move_the_engine_makes_is_legal(table, source, target):
    assert can_transition(table, source, target)


@pytest.mark.parametrize(
    ("table", "source", "target"),
    [move for table, statuses in TABLES for move in moves_of(table, statuses) if move not in LEGAL],
)
def test_every_other_move_is_illegal(table, source, target):
    assert not can_transition(table, source, target)


@pytest.mark.parametrize(("table", "statuses"), TABLES)
def test_every_status_has_a_row(table, statuses):
    assert set(table.moves) == {None, *statuses}
    assert all(targets <= set(statuses) for targets in table.moves.values())


def test_entities_are_created_in_a_status_their_table_opens_with():
    flow = fold_flow([Event(flow_aggregate("f"), 1, NOW, started("a"))])
    assert can_transition(FLOW_TRANSITIONS, None, flow.status)
    assert can_transition(STEP_TRANSITIONS, None, Execution().status)
    assert can_transition(WORK_TRANSITIONS, None, WorkItem({}).status)


def test_the_error_names_aggregate_entity_and_both_statuses_in_json():
    error = transition_error(WORK_TRANSITIONS, W.SUCCEEDED, W.ACTIVE, "flow:f", "a", "t1")
    assert str(error) == 'flow:f: work item a/t1 cannot move from "succeeded" to "active"'
    assert (error.aggregate, error.entity) == ("flow:f", "work item a/t1")
    assert (error.source, error.target) == ("succeeded", "active")
    created = transition_error(FLOW_TRANSITIONS, None, F.COMPLETED, "flow:f")
    assert str(created) == 'flow:f: flow cannot move from null to "completed"'


# ------------------------------------------------------------------ appliers


def started(*step_ids):
    steps = [script_step(sid, "1", outputs=[f"out_{sid}"]) for sid in step_ids]
    return FlowStarted("f", plan(catalog_of(*steps), list(step_ids), {}), {})


def history(*datas):
    """The events of flow ``f`` over steps ``a`` and ``b``; ``datas`` follow its start."""
    events = [started("a", "b"), *datas]
    return [Event(flow_aggregate("f"), i + 1, NOW, data) for i, data in enumerate(events)]


RUNNING = [StepStarted("f", "a", {}, {"t1": {}}), WorkStarted("f", "a", "t1")]
DONE = [*RUNNING, WorkSucceeded("f", "a", "t1", {}), StepCompleted("f", "a", {})]


def test_a_legal_history_folds():
    state = fold_flow(history(*DONE, StepSkipped("f", "b", "no"), FlowCompleted("f")))
    assert state.status is F.COMPLETED
    assert state.executions["a"].work_items["t1"].status is W.SUCCEEDED


@pytest.mark.parametrize(
    ("datas", "entity", "source", "target"),
    [
        ([*RUNNING, StepStarted("f", "a", {}, {"t2": {}})], "step a", "active", "active"),
        ([*DONE, StepSkipped("f", "a", "late")], "step a", "completed", "skipped"),
        ([*DONE, StepFailed("f", "a", "late")], "step a", "completed", "failed"),
        ([FlowPaused("f"), FlowPaused("f")], "flow", "paused", "paused"),
        ([FlowResumed("f")], "flow", "active", "active"),
        ([FlowCompleted("f"), FlowRetried("f", ())], "flow", "completed", "active"),
        ([FlowFailed("f", "x"), FlowRetried("f", ("a",))], "step a", "pending", "pending"),
        ([RUNNING[0], WorkSucceeded("f", "a", "t1", {})], "work item a/t1", "pending", "succeeded"),
        ([*DONE[:3], WorkStarted("f", "a", "t1")], "work item a/t1", "succeeded", "active"),
        ([*DONE[:3], WorkFailed("f", "a", "t1", "late")], "work item a/t1", "succeeded", "failed"),
        (
            [*RUNNING, *[WorkNotCompleted("f", "a", "t1", "503")] * 2],
            "work item a/t1",
            "not_completed",
            "not_completed",
        ),
        ([FlowFailed("f", "x"), FlowCompleted("f")], "flow", "failed", "completed"),
        ([FlowCompleted("f"), FlowFailed("f", "x")], "flow", "completed", "failed"),
    ],
)
def test_an_illegal_move_raises_naming_it(datas, entity, source, target):
    events = history(*datas)
    before = fold_flow(events[:-1])
    with pytest.raises(TransitionError) as caught:
        fold(before, events[-1:], FLOW_APPLIERS)
    error = caught.value
    assert (error.aggregate, error.entity) == ("flow:f", entity)
    assert (error.source, error.target) == (source, target)


def test_a_flow_is_not_started_twice():
    events = history()
    with pytest.raises(TransitionError) as caught:
        fold(fold_flow(events), events, FLOW_APPLIERS)
    assert (caught.value.entity, caught.value.source, caught.value.target) == (
        "flow",
        "active",
        "active",
    )


def test_events_that_move_no_status_stay_legal_after_the_flow_ended():
    retry_at = NOW + timedelta(seconds=1)
    state = fold_flow(
        history(
            *RUNNING,
            FlowFailed("f", "a goal failed"),
            WorkNotCompleted("f", "a", "t1", "503"),
            WorkRetryScheduled("f", "a", "t1", 1, retry_at),
            WorkSucceeded("f", "a", "t1", {"out_a": 1}),
            WorkRetryScheduled("f", "a", "t1", 2, retry_at),
            AttributeSet("f", "a", "out_a", 1),
            AttributeSet("f", "b", "out_a", 2),
            StepCompleted("f", "a", {"out_a": 1}),
        )
    )
    assert state.status is F.FAILED
    assert state.executions["a"].status is S.COMPLETED
    assert state.executions["a"].work_items["t1"].retry_count == 2
    assert state.attributes["out_a"].value == 1
