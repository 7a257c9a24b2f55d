"""Compensation and deactivation: what happens to a flow after it has ended.

When a flow fails or is canceled, every succeeded work item of a step with
``http.compensate`` is undone by a call to that URL: one item at a time, the
latest completed first (``WorkItem.completed_seq``), each starting once the one
before has ended. A call that does not complete (transport error, timeout, 5xx)
is retried under the step's ``work_config`` like work; a 4xx, or retries used
up, ends it as ``compensation_failed``. Once an ended flow has no work item
running and nothing left to compensate, it is deactivated (``flow_deactivated``):
nothing it started can have side effects any more.

These rules run at the end of every decision (``decide.Builder.done``), so each
trigger that moves an ended flow (its end, a late result, a compensation's
result, a due retry, a takeover) carries its compensation on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from argyll.events import (
    CompFailed,
    CompRetryScheduled,
    CompStarted,
    CompSucceeded,
    EventData,
    FlowDeactivated,
)
from argyll.model import (
    UNDOING,
    FlowID,
    FlowState,
    Step,
    StepID,
    Token,
    WorkConfig,
    WorkItem,
    WorkStatus,
)

COMPENSATION_STATUSES = frozenset(
    {WorkStatus.COMPENSATING, WorkStatus.COMPENSATED, WorkStatus.COMPENSATION_FAILED}
)


@dataclass(frozen=True, slots=True)
class RunCompensation:
    """Call the step's compensate URL for one succeeded item, with its inputs and outputs."""

    flow_id: FlowID
    step: Step
    token: Token
    inputs: Mapping[str, Any]
    outputs: Mapping[str, Any]


class Decider(Protocol):
    """What these rules need of a decision being built (``decide.Builder`` is one)."""

    @property
    def flow(self) -> FlowState: ...

    @property
    def now(self) -> datetime: ...

    @property
    def instance(self) -> str: ...

    def emit(self, data: EventData) -> None: ...

    def effect(self, effect: Any) -> None: ...

    def wake(self, at: datetime) -> None: ...

    def next_retry(self, config: WorkConfig, retry_count: int) -> tuple[int, datetime] | None: ...


def _items(flow: FlowState) -> Iterator[tuple[Step, Token, WorkItem]]:
    """Every work item of the flow's compensable steps."""
    for step_id, execution in flow.executions.items():
        step = flow.plan.steps[step_id]
        if step.compensable:
            for token, item in execution.work_items.items():
                yield step, token, item


def waiting(flow: FlowState) -> list[tuple[Step, Token, WorkItem]]:
    """The succeeded items still to be compensated, next first (latest completion first)."""
    if flow.status not in UNDOING:
        return []
    found = [entry for entry in _items(flow) if entry[2].status is WorkStatus.SUCCEEDED]
    return sorted(found, key=lambda entry: entry[2].completed_seq or 0, reverse=True)


def compensating(flow: FlowState) -> tuple[Step, Token, WorkItem] | None:
    """The item being compensated (its call running or its retry scheduled), if any."""
    return next((e for e in _items(flow) if e[2].status is WorkStatus.COMPENSATING), None)


def started(flow: FlowState) -> bool:
    """Whether compensation has begun: from then on the flow's work is being undone."""
    return any(item.status in COMPENSATION_STATUSES for _, _, item in _items(flow))


def settled(flow: FlowState) -> bool:
    """An ended flow with no work running and nothing to compensate: it can be deactivated."""
    running = any(
        item.status in (WorkStatus.ACTIVE, WorkStatus.COMPENSATING)
        for execution in flow.executions.values()
        for item in execution.work_items.values()
    )
    return flow.status.ended and not running and not waiting(flow)


def settle(decider: Decider) -> None:
    """Carry an ended flow's compensation on, and deactivate it once nothing is left."""
    flow = decider.flow
    if not flow.status.ended or flow.deactivated_at is not None:
        return
    current = compensating(flow)
    if current is None:
        queue = waiting(flow)
        if queue:
            _call(decider, *queue[0])
    elif _due(current[2], decider.now):
        _call(decider, *current)
    if settled(decider.flow):
        decider.emit(FlowDeactivated(flow.id, flow.status.value))


def record(
    decider: Decider, step_id: str, token: str, error: str | None, *, transient: bool
) -> None:
    """Take a compensation call's result: done (``error`` None), retried, or failed for good.

    A result for an item that is not waiting for one (a repeat, or its retry is
    already scheduled) changes nothing.
    """
    flow = decider.flow
    execution = flow.executions.get(StepID(step_id))
    item = execution.work_items.get(Token(token)) if execution else None
    if item is None or item.status is not WorkStatus.COMPENSATING or item.next_retry_at:
        return
    step = flow.plan.steps[StepID(step_id)]
    ident = (flow.id, step.id, Token(token))
    if error is None:
        decider.emit(CompSucceeded(*ident))
        return
    retry = decider.next_retry(step.work_config, item.retry_count) if transient else None
    if retry is not None:
        count, due = retry
        decider.emit(CompRetryScheduled(*ident, count, due, error))
        decider.wake(due)
    elif transient:
        decider.emit(CompFailed(*ident, f"{error} (retries used up: {item.retry_count})"))
    else:
        decider.emit(CompFailed(*ident, error))


def take_over(decider: Decider, is_dead: Callable[[str], bool]) -> None:
    """Compensations whose instance died: a running call is made again, a retry gets a wake-up.

    ``settle`` (at the end of the decision) starts whatever had not been started.
    """
    current = compensating(decider.flow)
    if current is None or not is_dead(current[2].owner):
        return
    step, token, item = current
    if item.next_retry_at is None:
        _call(decider, step, token, item)
    else:
        decider.wake(item.next_retry_at)


def _due(item: WorkItem, now: datetime) -> bool:
    return item.next_retry_at is not None and item.next_retry_at <= now


def _call(decider: Decider, step: Step, token: Token, item: WorkItem) -> None:
    flow_id = decider.flow.id
    decider.emit(CompStarted(flow_id, step.id, token, decider.instance))
    outputs = dict(item.outputs or {})
    decider.effect(RunCompensation(flow_id, step, token, dict(item.inputs), outputs))
