"""Appliers: pure (state, event) -> state functions, kept in tables, and ``fold``.

An event type missing from its table is a KeyError in ``fold``: a bug to be
caught by tests, never a silent no-op.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import TypeVar

from argyll.events import (
    AttributeSet,
    Event,
    FlowCompleted,
    FlowFailed,
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
    Role,
    Step,
    StepID,
    StepStatus,
    StepType,
    Token,
    WorkItem,
    WorkStatus,
)

S = TypeVar("S")
Applier = Callable[[S, Event], S]


def fold(state: S, events: Iterable[Event], appliers: Mapping[type, Applier[S]]) -> S:
    for event in events:
        state = appliers[type(event.data)](state, event)
    return state


# ------------------------------------------------------------------- catalog


def _without(index: Mapping[str, tuple[StepID, ...]], step: Step, role_out: bool) -> dict:
    out = dict(index)
    for name, spec in step.attributes.items():
        if (spec.role is Role.OUTPUT) == role_out and name in out:
            rest = tuple(s for s in out[name] if s != step.id)
            if rest:
                out[name] = rest
            else:
                del out[name]
    return out


def _with(index: dict, step: Step, role_out: bool) -> dict:
    for name, spec in step.attributes.items():
        if (spec.role is Role.OUTPUT) == role_out:
            index[name] = (*index.get(name, ()), step.id)
    return index


def _put_step(catalog: Catalog, step: Step, event: Event) -> Catalog:
    old = catalog.steps.get(step.id)
    providers, consumers = catalog.providers, catalog.consumers
    if old is not None:
        providers, consumers = _without(providers, old, True), _without(consumers, old, False)
    health = {**catalog.health, step.id: _initial_health(step)}
    return replace(
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


def _step_registered(catalog: Catalog, event: Event) -> Catalog:
    data = event.data
    assert isinstance(data, StepRegistered)
    return _put_step(catalog, data.step, event)


def _step_updated(catalog: Catalog, event: Event) -> Catalog:
    data = event.data
    assert isinstance(data, StepUpdated)
    return _put_step(catalog, data.step, event)


def _step_unregistered(catalog: Catalog, event: Event) -> Catalog:
    data = event.data
    assert isinstance(data, StepUnregistered)
    step = catalog.steps[data.step_id]
    steps = {sid: s for sid, s in catalog.steps.items() if sid != step.id}
    health = {sid: h for sid, h in catalog.health.items() if sid != step.id}
    return replace(
        catalog,
        steps=steps,
        health=health,
        providers=_without(catalog.providers, step, True),
        consumers=_without(catalog.consumers, step, False),
        version=event.seq,
        last_updated=event.timestamp,
    )


def _step_health_changed(catalog: Catalog, event: Event) -> Catalog:
    data = event.data
    assert isinstance(data, StepHealthChanged)
    health = Health(HealthStatus(data.status), data.error)
    return replace(
        catalog,
        health={**catalog.health, data.step_id: health},
        version=event.seq,
        last_updated=event.timestamp,
    )


CATALOG_APPLIERS: dict[type, Applier[Catalog]] = {
    StepRegistered: _step_registered,
    StepUpdated: _step_updated,
    StepUnregistered: _step_unregistered,
    StepHealthChanged: _step_health_changed,
}


# ---------------------------------------------------------------------- flow


def new_flow(event: Event) -> FlowState:
    """The state a ``flow_started`` event opens; every other flow event folds onto it."""
    data = event.data
    assert isinstance(data, FlowStarted)
    return FlowState(
        id=data.flow_id,
        plan=data.plan,
        init=data.init,
        created_at=event.timestamp,
        last_updated=event.timestamp,
        attributes={name: AttributeValue(value) for name, value in data.init.items()},
        executions={sid: Execution() for sid in data.plan.steps},
        version=event.seq,
    )


def _flow_started(flow: FlowState | None, event: Event) -> FlowState:
    return new_flow(event)


def _touch(flow: FlowState, event: Event, **changes: object) -> FlowState:
    return replace(flow, last_updated=event.timestamp, version=event.seq, **changes)


def _with_execution(flow: FlowState, step_id: StepID, event: Event, **changes: object) -> FlowState:
    execution = replace(flow.executions[step_id], **changes)
    return _touch(flow, event, executions={**flow.executions, step_id: execution})


def _with_item(
    flow: FlowState, step_id: StepID, token: Token, event: Event, **changes: object
) -> FlowState:
    execution = flow.executions[step_id]
    item = replace(execution.work_items[token], **changes)
    return _with_execution(flow, step_id, event, work_items={**execution.work_items, token: item})


def _step_started(flow: FlowState, event: Event) -> FlowState:
    data = event.data
    assert isinstance(data, StepStarted)
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


def _work_started(flow: FlowState, event: Event) -> FlowState:
    data = event.data
    assert isinstance(data, WorkStarted)
    return _with_item(
        flow,
        data.step_id,
        data.token,
        event,
        status=WorkStatus.ACTIVE,
        next_retry_at=None,
        owner=data.instance,
    )


def _work_succeeded(flow: FlowState, event: Event) -> FlowState:
    data = event.data
    assert isinstance(data, WorkSucceeded)
    return _with_item(
        flow,
        data.step_id,
        data.token,
        event,
        status=WorkStatus.SUCCEEDED,
        outputs=data.outputs,
        error=None,
    )


def _work_failed(flow: FlowState, event: Event) -> FlowState:
    data = event.data
    assert isinstance(data, WorkFailed)
    return _with_item(
        flow, data.step_id, data.token, event, status=WorkStatus.FAILED, error=data.error
    )


def _work_not_completed(flow: FlowState, event: Event) -> FlowState:
    data = event.data
    assert isinstance(data, WorkNotCompleted)
    return _with_item(
        flow, data.step_id, data.token, event, status=WorkStatus.NOT_COMPLETED, error=data.error
    )


def _work_retry_scheduled(flow: FlowState, event: Event) -> FlowState:
    data = event.data
    assert isinstance(data, WorkRetryScheduled)
    return _with_item(
        flow,
        data.step_id,
        data.token,
        event,
        retry_count=data.retry_count,
        next_retry_at=data.next_retry_at,
    )


def _attribute_set(flow: FlowState, event: Event) -> FlowState:
    data = event.data
    assert isinstance(data, AttributeSet)
    if data.name in flow.attributes:
        return _touch(flow, event)
    value = AttributeValue(data.value, data.step_id)
    return _touch(flow, event, attributes={**flow.attributes, data.name: value})


def _step_completed(flow: FlowState, event: Event) -> FlowState:
    data = event.data
    assert isinstance(data, StepCompleted)
    return _with_execution(
        flow,
        data.step_id,
        event,
        status=StepStatus.COMPLETED,
        outputs=data.outputs,
        completed_at=event.timestamp,
    )


def _step_failed(flow: FlowState, event: Event) -> FlowState:
    data = event.data
    assert isinstance(data, StepFailed)
    return _with_execution(
        flow,
        data.step_id,
        event,
        status=StepStatus.FAILED,
        error=data.error,
        completed_at=event.timestamp,
    )


def _step_skipped(flow: FlowState, event: Event) -> FlowState:
    data = event.data
    assert isinstance(data, StepSkipped)
    return _with_execution(
        flow,
        data.step_id,
        event,
        status=StepStatus.SKIPPED,
        reason=data.reason,
        completed_at=event.timestamp,
    )


def _flow_completed(flow: FlowState, event: Event) -> FlowState:
    return _touch(flow, event, status=FlowStatus.COMPLETED, completed_at=event.timestamp)


def _flow_failed(flow: FlowState, event: Event) -> FlowState:
    data = event.data
    assert isinstance(data, FlowFailed)
    return _touch(
        flow, event, status=FlowStatus.FAILED, completed_at=event.timestamp, error=data.error
    )


FLOW_APPLIERS: dict[type, Applier[FlowState]] = {
    FlowStarted: _flow_started,
    StepStarted: _step_started,
    WorkStarted: _work_started,
    WorkSucceeded: _work_succeeded,
    WorkFailed: _work_failed,
    WorkNotCompleted: _work_not_completed,
    WorkRetryScheduled: _work_retry_scheduled,
    AttributeSet: _attribute_set,
    StepCompleted: _step_completed,
    StepFailed: _step_failed,
    StepSkipped: _step_skipped,
    FlowCompleted: _flow_completed,
    FlowFailed: _flow_failed,
}


def fold_flow(events: Iterable[Event]) -> FlowState:
    """A flow's state from its whole history (the first event is its ``flow_started``)."""
    iterator = iter(events)
    return fold(new_flow(next(iterator)), iterator, FLOW_APPLIERS)
