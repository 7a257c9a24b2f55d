"""Appliers: pure (state, event, data) -> state functions, kept in tables, and ``fold``.

``@applies(table, EventType)`` registers a function as the one applier of that
event type and hands it the event's data typed as that class. An event type
missing from its table is a KeyError in ``fold``: a bug to be caught by tests,
never a silent no-op. Every status an event changes is checked against
argyll.transitions, so a history that breaks those rules raises TransitionError
instead of folding into a state no decider could have produced.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from argyll.collect import with_candidate
from argyll.events import (
    AttributeSet,
    CompFailed,
    CompRetryScheduled,
    CompStarted,
    CompSucceeded,
    Event,
    EventData,
    FlowCanceled,
    FlowCompleted,
    FlowDeactivated,
    FlowFailed,
    FlowPaused,
    FlowResumed,
    FlowRetried,
    FlowStarted,
    StepCompleted,
    StepFailed,
    StepHealthChanged,
    StepRegistered,
    StepSkipped,
    StepStarted,
    StepUnregistered,
    StepUpdated,
    WorkFailed,
    WorkNotCompleted,
    WorkRetryScheduled,
    WorkStarted,
    WorkSucceeded,
)
from argyll.model import (
    AttributeValue,
    Catalog,
    Execution,
    FlowState,
    FlowStatus,
    Health,
    HealthStatus,
    Step,
    StepID,
    StepStatus,
    StepType,
    Token,
    WorkItem,
    WorkStatus,
)
from argyll.model.evolve import evolve
from argyll.transitions import (
    FLOW_TRANSITIONS,
    STEP_TRANSITIONS,
    WORK_TRANSITIONS,
    transition_error,
)

S = TypeVar("S")
D = TypeVar("D", bound=EventData)
Applier = Callable[[S, Event, Any], S]
"""``(state, event, event.data) -> state``; the data's type is the applier's key."""
Appliers = dict[type[EventData], Applier[S]]


def applies(
    table: Appliers[S], kind: type[D]
) -> Callable[[Callable[[S, Event, D], S]], Callable[[S, Event, D], S]]:
    """Register the decorated function in ``table`` as the applier of ``kind`` events."""

    def register(applier: Callable[[S, Event, D], S]) -> Callable[[S, Event, D], S]:
        if kind in table:
            raise ValueError(f"{kind.type} already has an applier: {table[kind].__name__}")
        table[kind] = applier
        return applier

    return register


def fold(state: S, events: Iterable[Event], appliers: Mapping[type, Applier[S]]) -> S:
    for event in events:
        data = event.data
        state = appliers[type(data)](state, event, data)
    return state


# ------------------------------------------------------------------- catalog


def _indexed(step: Step, role_out: bool) -> list[str]:
    """The attributes a catalog index lists the step under: its outputs, or the inputs the
    flow feeds (const and meta inputs come from the step and the execution, not the flow)."""
    if role_out:
        return list(step.outputs)
    return list(step.inputs)


def _without(index: Mapping[str, tuple[StepID, ...]], step: Step, role_out: bool) -> dict:
    out = dict(index)
    for name in _indexed(step, role_out):
        if name in out:
            rest = tuple(s for s in out[name] if s != step.id)
            if rest:
                out[name] = rest
            else:
                del out[name]
    return out


def _with(index: dict, step: Step, role_out: bool) -> dict:
    for name in _indexed(step, role_out):
        index[name] = (*index.get(name, ()), step.id)
    return index


def _put_step(catalog: Catalog, step: Step, event: Event) -> Catalog:
    old = catalog.steps.get(step.id)
    providers, consumers = catalog.providers, catalog.consumers
    if old is not None:
        providers, consumers = _without(providers, old, True), _without(consumers, old, False)
    health = {**catalog.health, step.id: _initial_health(step)}
    return evolve(
        catalog,
        steps={**catalog.steps, step.id: step},
        health=health,
        providers=_with(dict(providers), step, True),
        consumers=_with(dict(consumers), step, False),
        version=event.seq,
        last_updated=event.timestamp,
    )


def _initial_health(step: Step) -> Health:
    """Script steps are healthy once compiled; HTTP steps are unknown until probed."""
    if step.type is StepType.SCRIPT:
        return Health(HealthStatus.HEALTHY)
    return Health()


CATALOG_APPLIERS: Appliers[Catalog] = {}


@applies(CATALOG_APPLIERS, StepRegistered)
def _step_registered(catalog: Catalog, event: Event, data: StepRegistered) -> Catalog:
    return _put_step(catalog, data.step, event)


@applies(CATALOG_APPLIERS, StepUpdated)
def _step_updated(catalog: Catalog, event: Event, data: StepUpdated) -> Catalog:
    return _put_step(catalog, data.step, event)


@applies(CATALOG_APPLIERS, StepUnregistered)
def _step_unregistered(catalog: Catalog, event: Event, data: StepUnregistered) -> Catalog:
    step = catalog.steps[data.step_id]
    steps = {sid: s for sid, s in catalog.steps.items() if sid != step.id}
    health = {sid: h for sid, h in catalog.health.items() if sid != step.id}
    return evolve(
        catalog,
        steps=steps,
        health=health,
        providers=_without(catalog.providers, step, True),
        consumers=_without(catalog.consumers, step, False),
        version=event.seq,
        last_updated=event.timestamp,
    )


@applies(CATALOG_APPLIERS, StepHealthChanged)
def _step_health_changed(catalog: Catalog, event: Event, data: StepHealthChanged) -> Catalog:
    health = Health(HealthStatus(data.status), data.error)
    return evolve(
        catalog,
        health={**catalog.health, data.step_id: health},
        version=event.seq,
        last_updated=event.timestamp,
    )


# ---------------------------------------------------------------------- flow

FLOW_APPLIERS: Appliers[FlowState] = {}


def new_flow(event: Event) -> FlowState:
    """The state a flow's first event, its ``flow_started``, opens."""
    data = event.data
    if not isinstance(data, FlowStarted):
        raise TypeError(f"{event.aggregate} must open with flow_started, not {data.type}")
    return _flow_started(None, event, data)


@applies(FLOW_APPLIERS, FlowStarted)
def _flow_started(flow: FlowState | None, event: Event, data: FlowStarted) -> FlowState:
    """Open the flow: the move from nothing (a flow that exists has a status to move from)."""
    source = None if flow is None else flow.status
    if FlowStatus.ACTIVE not in FLOW_TRANSITIONS.moves[source]:
        raise transition_error(FLOW_TRANSITIONS, source, FlowStatus.ACTIVE, event.aggregate)
    return FlowState(
        id=data.flow_id,
        plan=data.plan,
        init=data.init,
        created_at=event.timestamp,
        last_updated=event.timestamp,
        attributes={name: AttributeValue(value) for name, value in data.init.items()},
        executions={sid: Execution() for sid in data.plan.steps},
        version=event.seq,
        deadline=data.deadline,
        labels=data.labels,
        parent=data.parent,
    )


def _touch(
    flow: FlowState, event: Event, status: FlowStatus | None = None, **changes: object
) -> FlowState:
    """The flow as of ``event``; ``status``, if given, is the move the event makes.

    Here and below, the move is checked by the membership ``can_transition`` tests,
    written out: it runs for every event folded.
    """
    if status is not None:
        if status not in FLOW_TRANSITIONS.moves[flow.status]:
            raise transition_error(FLOW_TRANSITIONS, flow.status, status, event.aggregate)
        changes["status"] = status
    return evolve(flow, last_updated=event.timestamp, version=event.seq, **changes)


def _with_execution(
    flow: FlowState,
    step_id: StepID,
    event: Event,
    status: StepStatus | None = None,
    **changes: object,
) -> FlowState:
    execution = flow.executions[step_id]
    if status is not None:
        if status not in STEP_TRANSITIONS.moves[execution.status]:
            raise transition_error(
                STEP_TRANSITIONS, execution.status, status, event.aggregate, step_id
            )
        changes["status"] = status
    execution = evolve(execution, **changes)
    return _touch(flow, event, executions={**flow.executions, step_id: execution})


def _with_item(
    flow: FlowState,
    step_id: StepID,
    token: Token,
    event: Event,
    status: WorkStatus | None = None,
    **changes: object,
) -> FlowState:
    execution = flow.executions[step_id]
    item = execution.work_items[token]
    if status is not None:
        if status not in WORK_TRANSITIONS.moves[item.status]:
            raise transition_error(
                WORK_TRANSITIONS, item.status, status, event.aggregate, step_id, token
            )
        changes["status"] = status
    item = evolve(item, **changes)
    return _with_execution(flow, step_id, event, work_items={**execution.work_items, token: item})


@applies(FLOW_APPLIERS, StepStarted)
def _step_started(flow: FlowState, event: Event, data: StepStarted) -> FlowState:
    items = {token: WorkItem(inputs) for token, inputs in data.work_items.items()}
    return _with_execution(
        flow,
        data.step_id,
        event,
        status=StepStatus.ACTIVE,
        started_at=event.timestamp,
        inputs=data.inputs,
        work_items=items,
    )


@applies(FLOW_APPLIERS, WorkStarted)
def _work_started(flow: FlowState, event: Event, data: WorkStarted) -> FlowState:
    return _with_item(
        flow,
        data.step_id,
        data.token,
        event,
        status=WorkStatus.ACTIVE,
        next_retry_at=None,
        owner=data.instance,
        started_at=event.timestamp,
    )


@applies(FLOW_APPLIERS, WorkSucceeded)
def _work_succeeded(flow: FlowState, event: Event, data: WorkSucceeded) -> FlowState:
    http = flow.plan.steps[data.step_id].http
    return _with_item(
        flow,
        data.step_id,
        data.token,
        event,
        status=WorkStatus.SUCCEEDED,
        outputs=data.outputs,
        error=None,
        memo=None if data.memo is None else data.memo.to_dict(),
        completed_seq=event.seq if http is not None and http.compensate else None,
    )


@applies(FLOW_APPLIERS, WorkFailed)
def _work_failed(flow: FlowState, event: Event, data: WorkFailed) -> FlowState:
    return _with_item(
        flow, data.step_id, data.token, event, status=WorkStatus.FAILED, error=data.error
    )


@applies(FLOW_APPLIERS, WorkNotCompleted)
def _work_not_completed(flow: FlowState, event: Event, data: WorkNotCompleted) -> FlowState:
    return _with_item(
        flow, data.step_id, data.token, event, status=WorkStatus.NOT_COMPLETED, error=data.error
    )


@applies(FLOW_APPLIERS, WorkRetryScheduled)
def _work_retry_scheduled(flow: FlowState, event: Event, data: WorkRetryScheduled) -> FlowState:
    return _with_item(
        flow,
        data.step_id,
        data.token,
        event,
        retry_count=data.retry_count,
        next_retry_at=data.next_retry_at,
    )


@applies(FLOW_APPLIERS, AttributeSet)
def _attribute_set(flow: FlowState, event: Event, data: AttributeSet) -> FlowState:
    if data.name in flow.attributes:
        return _touch(flow, event)
    value = AttributeValue(data.value, data.step_id)
    return _touch(flow, event, attributes={**flow.attributes, data.name: value})


@applies(FLOW_APPLIERS, StepCompleted)
def _step_completed(flow: FlowState, event: Event, data: StepCompleted) -> FlowState:
    flow = _candidates(flow, data)
    return _with_execution(
        flow,
        data.step_id,
        event,
        status=StepStatus.COMPLETED,
        outputs=data.outputs,
        completed_at=event.timestamp,
    )


def _candidates(flow: FlowState, data: StepCompleted) -> FlowState:
    """Each output another step or init set first becomes one more candidate (SPEC §14)."""
    changed = {
        name: with_candidate(flow.attributes[name], value, data.step_id)
        for name, value in data.outputs.items()
        if name in flow.attributes
        and (flow.attributes[name].values or flow.attributes[name].step != data.step_id)
    }
    return evolve(flow, attributes={**flow.attributes, **changed}) if changed else flow


@applies(FLOW_APPLIERS, StepFailed)
def _step_failed(flow: FlowState, event: Event, data: StepFailed) -> FlowState:
    return _with_execution(
        flow,
        data.step_id,
        event,
        status=StepStatus.FAILED,
        error=data.error,
        completed_at=event.timestamp,
        unsatisfied=data.unsatisfied or (),
    )


@applies(FLOW_APPLIERS, StepSkipped)
def _step_skipped(flow: FlowState, event: Event, data: StepSkipped) -> FlowState:
    return _with_execution(
        flow,
        data.step_id,
        event,
        status=StepStatus.SKIPPED,
        reason=data.reason,
        completed_at=event.timestamp,
        unsatisfied=data.unsatisfied or (),
    )


@applies(FLOW_APPLIERS, FlowCompleted)
def _flow_completed(flow: FlowState, event: Event, data: FlowCompleted) -> FlowState:
    return _touch(flow, event, status=FlowStatus.COMPLETED, completed_at=event.timestamp)


@applies(FLOW_APPLIERS, FlowFailed)
def _flow_failed(flow: FlowState, event: Event, data: FlowFailed) -> FlowState:
    return _touch(
        flow, event, status=FlowStatus.FAILED, completed_at=event.timestamp, error=data.error
    )


@applies(FLOW_APPLIERS, FlowPaused)
def _flow_paused(flow: FlowState, event: Event, data: FlowPaused) -> FlowState:
    return _touch(flow, event, status=FlowStatus.PAUSED)


@applies(FLOW_APPLIERS, FlowResumed)
def _flow_resumed(flow: FlowState, event: Event, data: FlowResumed) -> FlowState:
    return _touch(flow, event, status=FlowStatus.ACTIVE)


@applies(FLOW_APPLIERS, FlowCanceled)
def _flow_canceled(flow: FlowState, event: Event, data: FlowCanceled) -> FlowState:
    return _touch(flow, event, status=FlowStatus.CANCELED, completed_at=event.timestamp)


@applies(FLOW_APPLIERS, FlowRetried)
def _flow_retried(flow: FlowState, event: Event, data: FlowRetried) -> FlowState:
    """Active again; each retried step starts over from pending, its old work items gone."""
    executions = dict(flow.executions)
    for step_id in data.steps:
        source = executions[step_id].status
        if StepStatus.PENDING not in STEP_TRANSITIONS.moves[source]:
            raise transition_error(
                STEP_TRANSITIONS, source, StepStatus.PENDING, event.aggregate, step_id
            )
        executions[step_id] = Execution()
    return _touch(
        flow,
        event,
        status=FlowStatus.ACTIVE,
        completed_at=None,
        error=None,
        executions=executions,
        deactivated_at=None,
    )


# ---------------------------------------------------------------- compensation


@applies(FLOW_APPLIERS, CompStarted)
def _comp_started(flow: FlowState, event: Event, data: CompStarted) -> FlowState:
    """Compensating; the first start counts its retries afresh (work retries are not its own)."""
    item = flow.executions[data.step_id].work_items[data.token]
    first = item.status is WorkStatus.SUCCEEDED
    return _with_item(
        flow,
        data.step_id,
        data.token,
        event,
        status=WorkStatus.COMPENSATING,
        next_retry_at=None,
        owner=data.instance,
        retry_count=0 if first else item.retry_count,
        error=None if first else item.error,
    )


@applies(FLOW_APPLIERS, CompRetryScheduled)
def _comp_retry_scheduled(flow: FlowState, event: Event, data: CompRetryScheduled) -> FlowState:
    return _with_item(
        flow,
        data.step_id,
        data.token,
        event,
        status=WorkStatus.COMPENSATING,
        retry_count=data.retry_count,
        next_retry_at=data.next_retry_at,
        error=data.error,
    )


@applies(FLOW_APPLIERS, CompSucceeded)
def _comp_succeeded(flow: FlowState, event: Event, data: CompSucceeded) -> FlowState:
    return _with_item(
        flow,
        data.step_id,
        data.token,
        event,
        status=WorkStatus.COMPENSATED,
        next_retry_at=None,
        error=None,
    )


@applies(FLOW_APPLIERS, CompFailed)
def _comp_failed(flow: FlowState, event: Event, data: CompFailed) -> FlowState:
    return _with_item(
        flow,
        data.step_id,
        data.token,
        event,
        status=WorkStatus.COMPENSATION_FAILED,
        next_retry_at=None,
        error=data.error,
    )


@applies(FLOW_APPLIERS, FlowDeactivated)
def _flow_deactivated(flow: FlowState, event: Event, data: FlowDeactivated) -> FlowState:
    return _touch(flow, event, deactivated_at=event.timestamp)


def fold_flow(events: Iterable[Event]) -> FlowState:
    """A flow's state from its whole history (the first event is its ``flow_started``)."""
    iterator = iter(events)
    return fold(new_flow(next(iterator)), iterator, FLOW_APPLIERS)
