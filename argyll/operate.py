"""Operator deciders: pause, resume, cancel, retry, and a step completed or skipped by hand.

Each takes the flow's state, who acts (``actor``) and why (``reason``), and returns
the events to append like every decider in ``argyll.decide``, whose rules carry the
flow on afterwards. A call the flow's status does not allow raises ConflictError, a
retry or outputs that name what the flow does not have raise ValidationError; in
either case nothing is decided.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from argyll import compensate
from argyll.decide import (
    CANCELED_REASON,
    SKIPPED_BY_HAND,
    Builder,
    Context,
    Decision,
    ScheduleWake,
    StopWork,
    advance,
    webhook_deadline,
)
from argyll.errors import ConflictError, NotFoundError, ValidationError
from argyll.events import (
    AttributeSet,
    FlowCanceled,
    FlowPaused,
    FlowResumed,
    FlowRetried,
    StepCompleted,
    StepSkipped,
)
from argyll.model import (
    FlowState,
    FlowStatus,
    Plan,
    Step,
    StepID,
    StepStatus,
    json_text,
    matches_type,
)
from argyll.model.validation import Problem


def on_pause(flow: FlowState, actor: str, reason: str | None, context: Context) -> Decision:
    """Nothing new starts until a resume; running work finishes and is recorded."""
    _require(flow, "paused", FlowStatus.ACTIVE)
    builder = Builder(flow, context, flow.version)
    builder.emit(FlowPaused(flow.id, actor, reason))
    return builder.done()


def on_resume(flow: FlowState, actor: str, reason: str | None, context: Context) -> Decision:
    """Carry on where the flow stood: what became ready meanwhile starts now."""
    _require(flow, "resumed", FlowStatus.PAUSED)
    builder = Builder(flow, context, flow.version)
    builder.emit(FlowResumed(flow.id, actor, reason))
    advance(builder)
    _wake_for_timers(builder)
    return builder.done()


def on_cancel(flow: FlowState, actor: str, reason: str | None, context: Context) -> Decision:
    """End the flow: every step that has not ended is skipped, running scripts stop."""
    if flow.status.ended:
        raise ConflictError(f"flow {flow.id!r} is already {flow.status.value}")
    builder = Builder(flow, context, flow.version)
    builder.emit(FlowCanceled(flow.id, actor, reason))
    for step_id, execution in flow.executions.items():
        if not execution.status.ended:
            builder.emit(StepSkipped(flow.id, step_id, CANCELED_REASON))
    builder.effect(StopWork(flow.id))
    return builder.done()


@dataclass(frozen=True, slots=True)
class Redrive:
    """What a retry asks: steps to run again (default: what failed), steps resolved first."""

    steps: tuple[str, ...] = ()
    complete: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    skip: tuple[str, ...] = ()


def on_retry(
    flow: FlowState, redrive: Redrive, actor: str, reason: str | None, context: Context
) -> Decision:
    """Run a failed or canceled flow again from where it stopped; completed steps stay."""
    if flow.status not in (FlowStatus.FAILED, FlowStatus.CANCELED):
        raise ConflictError(
            f"flow {flow.id!r} is {flow.status.value}; only a failed or canceled flow is retried"
        )
    if compensate.started(flow):
        raise ConflictError(
            f"flow {flow.id!r} is being compensated or was: its completed work is being undone,"
            " so it cannot run again"
        )
    _check_redrive(flow, redrive)
    again = _rerun(flow, redrive)
    builder = Builder(flow, context, flow.version)
    builder.emit(FlowRetried(flow.id, again, actor, reason))
    problems = [
        problem
        for step_id, outputs in redrive.complete.items()
        for problem in _output_problems(
            flow.plan.steps[StepID(step_id)], outputs, f"complete.{step_id}"
        )
    ]
    problems += _unresolvable(builder.flow, redrive)
    if problems:
        raise ValidationError(problems)
    for step_id, outputs in redrive.complete.items():
        _complete_by_hand(builder, StepID(step_id), outputs, actor, reason)
    for step_id in redrive.skip:
        builder.emit(StepSkipped(flow.id, StepID(step_id), reason or SKIPPED_BY_HAND, actor))
    advance(builder)
    return builder.done()


def on_complete_step(
    flow: FlowState,
    step_id: str,
    outputs: Mapping[str, Any],
    actor: str,
    reason: str | None,
    context: Context,
) -> Decision:
    """Resolve a step by hand with ``outputs``; the flow goes on as if the step had done it."""
    step = _open_step(flow, step_id)
    problems = _output_problems(step, outputs, "outputs")
    if problems:
        raise ValidationError(problems)
    builder = Builder(flow, context, flow.version)
    _complete_by_hand(builder, step.id, outputs, actor, reason)
    advance(builder)
    return builder.done()


def on_skip_step(
    flow: FlowState, step_id: str, actor: str, reason: str | None, context: Context
) -> Decision:
    """Skip a step by hand; what needs its outputs is then skipped as unreachable."""
    step = _open_step(flow, step_id)
    builder = Builder(flow, context, flow.version)
    builder.emit(StepSkipped(flow.id, step.id, reason or SKIPPED_BY_HAND, actor))
    advance(builder)
    return builder.done()


def _require(flow: FlowState, done: str, status: FlowStatus) -> None:
    if flow.status is not status:
        raise ConflictError(
            f"flow {flow.id!r} is {flow.status.value}; only {_a(status.value)} flow can be {done}"
        )


def _a(word: str) -> str:
    return f"{'an' if word[0] in 'aeiou' else 'a'} {word}"


def _open_step(flow: FlowState, step_id: str) -> Step:
    """A step of the plan that has not ended, in a flow that has not ended."""
    step = flow.plan.steps.get(StepID(step_id))
    if step is None:
        raise NotFoundError("step", f"{flow.id}/{step_id}")
    if flow.status.ended:
        raise ConflictError(f"flow {flow.id!r} is already {flow.status.value}")
    status = flow.executions[step.id].status
    if status.ended:
        raise ConflictError(f"step {step_id!r} of flow {flow.id!r} is already {status.value}")
    return step


def _output_problems(step: Step, outputs: Mapping[str, Any], where: str) -> list[Problem]:
    """What is wrong with outputs given by hand: names the step does not output, wrong types."""
    declared = step.outputs
    problems = []
    for name, value in outputs.items():
        spec = step.attributes.get(name)
        if name not in declared or spec is None:
            expected = ", ".join(map(json_text, declared)) or "none"
            problems.append((f"{where}.{name}", f"is not an output of the step ({expected})"))
        elif not matches_type(value, spec.type):
            problems.append((f"{where}.{name}", f"must be of type {spec.type}"))
    return problems


def _complete_by_hand(
    builder: Builder, step_id: StepID, outputs: Mapping[str, Any], actor: str, reason: str | None
) -> None:
    flow_id = builder.flow.id
    for name, value in outputs.items():
        if name not in builder.flow.attributes:
            builder.emit(AttributeSet(flow_id, step_id, name, value))
    builder.emit(StepCompleted(flow_id, step_id, dict(outputs), actor, reason))


def _check_redrive(flow: FlowState, redrive: Redrive) -> None:
    """Every step a retry names must be in the plan; what it runs again must not have completed."""
    problems = []
    named = [
        *((f"steps[{n}]", s) for n, s in enumerate(redrive.steps)),
        *((f"complete.{s}", s) for s in redrive.complete),
        *((f"skip[{n}]", s) for n, s in enumerate(redrive.skip)),
    ]
    for where, step_id in named:
        if StepID(step_id) not in flow.plan.steps:
            problems.append((where, f"unknown step {json_text(step_id)}: not in the flow's plan"))
    for n, step_id in enumerate(redrive.steps):
        execution = flow.executions.get(StepID(step_id))
        if execution is not None and execution.status is StepStatus.COMPLETED:
            problems.append(
                (f"steps[{n}]", f"step {json_text(step_id)} completed; it never runs again")
            )
    if problems:
        raise ValidationError(problems)


def _rerun(flow: FlowState, redrive: Redrive) -> tuple[StepID, ...]:
    """The steps a retry returns to pending: the named (or failed) ones and what ended by them.

    Without ``steps``: the failed steps, and in a canceled flow the steps the cancel
    stopped. Then every step downstream of those that ended without completing.
    """
    if redrive.steps:
        roots = {StepID(s) for s in redrive.steps}
    else:
        roots = {
            step_id
            for step_id, execution in flow.executions.items()
            if execution.status is StepStatus.FAILED
            or (execution.status is StepStatus.SKIPPED and execution.reason == CANCELED_REASON)
        }
    again = set(roots)
    frontier = list(roots)
    while frontier:
        step = flow.plan.steps[frontier.pop()]
        for name in step.outputs:
            for consumer in _consumers(flow.plan, name):
                status = flow.executions[consumer].status
                if consumer not in again and status in (StepStatus.FAILED, StepStatus.SKIPPED):
                    again.add(consumer)
                    frontier.append(consumer)
    return tuple(s for s in flow.plan.steps if s in again and flow.executions[s].status.ended)


def _consumers(plan: Plan, name: str) -> tuple[StepID, ...]:
    edges = plan.attributes.get(name)
    return tuple(edges.consumers) if edges is not None else ()


def _unresolvable(flow: FlowState, redrive: Redrive) -> list[Problem]:
    """Steps a retry completes or skips by hand that have ended and do not run again."""
    named = [
        *((f"complete.{s}", s) for s in redrive.complete),
        *(("skip", s) for s in redrive.skip),
    ]
    return [
        (where, f"step {json_text(s)} is already {flow.executions[StepID(s)].status.value}")
        for where, s in named
        if flow.executions[StepID(s)].status.ended
    ]


def _wake_for_timers(builder: Builder) -> None:
    """Wake-ups for what is due later: retries, webhooks' deadlines, the flow's deadline.

    A resumed flow may be carried on by another instance than the one whose timers
    were set, so the resuming one sets its own (a wake-up with nothing due decides nothing).
    """
    flow = builder.flow
    for step_id, execution in flow.executions.items():
        step = flow.plan.steps[step_id]
        for item in execution.work_items.values():
            due = item.next_retry_at or webhook_deadline(step, item)
            if due is not None and due > builder.now:
                builder.effect(ScheduleWake(flow.id, due))
    if flow.deadline is not None and not flow.status.ended:
        builder.effect(ScheduleWake(flow.id, flow.deadline))
