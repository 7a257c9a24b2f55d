"""Flow deciders: given a flow's state, a trigger and the time, the events to append.

Deciders look at the state first, so a repeated trigger decides nothing new.
They return the events plus *effects as values* (run this work, evaluate this
predicate, wake me at this time); the runtime appends the events and only then
performs the effects. One trigger's events are folded as they are decided, so a
single decision carries a flow as far as it can go without outside work.
"""

from __future__ import annotations

import hmac
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from argyll import collect, compensate
from argyll.apply import FLOW_APPLIERS, new_flow
from argyll.errors import MissingInputsError, NotFoundError, ScriptError, ValidationError
from argyll.events import (
    AttributeSet,
    Event,
    EventData,
    FlowCompleted,
    FlowFailed,
    FlowStarted,
    MemoSource,
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
from argyll.mapping import (
    MappingFailed,
    const_problems,
    const_values,
    flow_outputs,
    meta_values,
    service_inputs,
    step_outputs,
    typed_by_flow,
)
from argyll.model import (
    BackoffType,
    Execution,
    FlowID,
    FlowState,
    FlowStatus,
    ParentRef,
    Plan,
    ScriptConfig,
    Step,
    StepID,
    StepStatus,
    StepType,
    Token,
    WorkConfig,
    WorkItem,
    WorkStatus,
    matches_type,
)
from argyll.outcomes import Failed, Memoized, NotCompleted, Outcome, Succeeded
from argyll.transitions import WORK_TRANSITIONS, can_transition

NewToken = Callable[[], str]
Evaluate = Callable[[ScriptConfig, Mapping[str, Any]], Any]
"""Runs a small script within a small budget; raises ScriptError. ``evaluate`` gives a
mapping's value, ``test`` a match gate's truth (the runtime's ScriptRunner does both:
Ale and Lua see the bindings, a jpath query's document is ``bindings["value"]``)."""


def no_scripts(config: ScriptConfig, bindings: Mapping[str, Any]) -> Any:
    """The evaluator of a context that was given none: every script is an error."""
    raise ScriptError(f"no {config.language} evaluator in this context")


# ------------------------------------------------------------------- effects


@dataclass(frozen=True, slots=True)
class RunWork:
    flow_id: FlowID
    step: Step
    token: Token
    inputs: Mapping[str, Any]
    retry_count: int = 0


@dataclass(frozen=True, slots=True)
class AcquireSlot:
    """Ask the store for a slot of a step with a concurrency limit; the item starts on grant.

    ``claim_from`` names the dead owner of an active item being taken over ("" for an
    item that has not started or a retry that is due).
    """

    flow_id: FlowID
    step: Step
    token: Token
    claim_from: str = ""


@dataclass(frozen=True, slots=True)
class EvaluatePredicate:
    flow_id: FlowID
    step: Step
    inputs: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ScheduleWake:
    flow_id: FlowID
    at: datetime


@dataclass(frozen=True, slots=True)
class StopWork:
    """The flow ended early (canceled, timed out): stop its running scripts.

    HTTP calls already sent are left to answer; their results are recorded and start nothing.
    """

    flow_id: FlowID


Effect = (
    RunWork | AcquireSlot | EvaluatePredicate | ScheduleWake | StopWork | compensate.RunCompensation
)

CANCELED_REASON = "flow canceled"
"""Why the steps a cancel stopped were skipped (a retry of the canceled flow runs them)."""
SKIPPED_BY_HAND = "skipped by hand"


@dataclass(frozen=True, slots=True)
class Policy:
    """Engine-wide defaults a step's own work_config can override."""

    max_retries: int = 3


@dataclass(frozen=True, slots=True)
class Context:
    """What a decision may use besides the state: the time, token source, who decides."""

    now: datetime
    new_token: NewToken
    instance: str = ""
    policy: Policy = Policy()
    evaluate: Evaluate = no_scripts
    test: Evaluate = no_scripts


@dataclass(slots=True)
class Decision:
    """What a trigger decided: events to append after ``expected``, then effects."""

    expected: int
    events: list[EventData] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)
    state: FlowState | None = None


class Builder:
    """Folds each decided event at once, so later rules see the new state."""

    def __init__(self, flow: FlowState, context: Context, expected: int) -> None:
        self.flow, self.context, self.now = flow, context, context.now
        self.decision = Decision(expected)
        self.aggregate = flow_aggregate(flow.id)

    def emit(self, data: EventData) -> None:
        event = Event(self.aggregate, self.flow.version + 1, self.now, data)
        self.flow = FLOW_APPLIERS[type(data)](self.flow, event, data)
        self.decision.events.append(data)

    def effect(self, effect: Effect) -> None:
        self.decision.effects.append(effect)

    @property
    def instance(self) -> str:
        return self.context.instance

    def wake(self, at: datetime) -> None:
        self.effect(ScheduleWake(self.flow.id, at))

    def next_retry(self, config: WorkConfig, retry_count: int) -> tuple[int, datetime] | None:
        """The number and time of the retry after ``retry_count`` ones, or None when used up."""
        limit = config.max_retries or self.context.policy.max_retries
        if limit >= 0 and retry_count >= limit:
            return None
        retry = retry_count + 1
        return retry, self.now + timedelta(milliseconds=retry_delay_ms(config, retry))

    def done(self) -> Decision:
        """The decision; an ended flow's compensation and deactivation come last."""
        compensate.settle(self)
        self.decision.state = self.flow
        return self.decision


def retry_delay_ms(config: WorkConfig, retry: int) -> int:
    """Backoff before retry ``retry`` (1-based) (docs/concepts.md), capped at max_backoff."""
    match config.backoff_type:
        case BackoffType.FIXED:
            delay = config.init_backoff
        case BackoffType.LINEAR:
            delay = config.init_backoff * retry
        case _:
            delay = config.init_backoff * 2 ** min(retry - 1, 62)
    return min(delay, config.max_backoff)


def check_init(plan: Plan, init: Mapping[str, Any]) -> None:
    """Refuse a start whose init lacks required inputs or holds values of the wrong type."""
    if plan.required:
        raise MissingInputsError(plan.required)
    problems = []
    for name, value in init.items():
        for step_id in plan.attributes[name].consumers if name in plan.attributes else ():
            spec = plan.steps[step_id].attributes[name]
            checked = typed_by_flow(spec) and not spec.collect.gathers  # a some/all: an array
            if checked and not matches_type(value, spec.type):
                problems.append((f"init.{name}", f"must be of type {spec.type}"))
                break
    problems += const_problems(plan, init)
    if problems:
        raise ValidationError(problems)


# ---------------------------------------------------------------- deciders


def on_start(
    flow_id: FlowID,
    plan: Plan,
    init: Mapping[str, Any],
    context: Context,
    *,
    timeout_ms: int | None = None,
    labels: Mapping[str, str] | None = None,
    actor: str | None = None,
    parent: ParentRef | None = None,
) -> Decision:
    """Open a flow (``parent``: a child flow's sub-flow step) and carry it as far as it goes."""
    check_init(plan, init)
    deadline = context.now + timedelta(milliseconds=timeout_ms) if timeout_ms else None
    started = FlowStarted(flow_id, plan, dict(init), deadline, actor, dict(labels or {}), parent)
    flow = new_flow(Event(flow_aggregate(flow_id), 1, context.now, started))
    builder = Builder(flow, context, expected=0)
    builder.decision.events.append(started)
    if deadline is not None:
        builder.effect(ScheduleWake(flow_id, deadline))
    advance(builder)
    return builder.done()


def on_work_outcome(
    flow: FlowState,
    step_id: str,
    token: str,
    outcome: Outcome,
    context: Context,
) -> Decision:
    """Record a work item's result; raises NotFoundError for a step or token not in the flow."""
    execution = flow.executions.get(StepID(step_id))
    item = _item_of(execution, token) if execution else None
    if execution is None or item is None:
        raise NotFoundError("work item", f"{flow.id}/{step_id}/{token}")
    builder = Builder(flow, context, flow.version)
    step = flow.plan.steps[StepID(step_id)]
    if execution.status is not StepStatus.ACTIVE:
        _record_late(builder, step, Token(token), item, outcome)
        return builder.done()
    match outcome:
        case Succeeded(outputs) | Memoized(outputs) if _takes(item, WorkStatus.SUCCEEDED):
            _succeed(builder, step, Token(token), outputs, _memo_source(outcome))
        case Failed(error) if _takes(item, WorkStatus.FAILED):
            builder.emit(WorkFailed(flow.id, step.id, Token(token), error))
        case NotCompleted(error) if _takes(item, WorkStatus.NOT_COMPLETED):
            _not_completed(builder, step, Token(token), item, error)
        case _:
            return builder.done()
    advance(builder)
    return builder.done()


def _item_of(execution: Execution, token: str) -> WorkItem | None:
    """The item a receipt token names, compared in constant time with every item's token.

    The token alone authorises a webhook, so how long a wrong one takes must not
    tell how much of it was right.
    """
    given, found = token.encode(), None
    for known, item in execution.work_items.items():
        if hmac.compare_digest(known.encode(), given):
            found = item
    return found


def _record_late(
    builder: Builder, step: Step, token: Token, item: WorkItem, outcome: Outcome
) -> None:
    """A result for a step that ended meanwhile (by hand, or skipped by a cancel): recorded
    for the audit, acted on never (no attribute, no retry, nothing starts)."""
    flow_id = builder.flow.id
    match outcome:
        case Succeeded(outputs) | Memoized(outputs) if _takes(item, WorkStatus.SUCCEEDED):
            memo = _memo_source(outcome)
            builder.emit(WorkSucceeded(flow_id, step.id, token, dict(outputs), memo))
        case Failed(error) if _takes(item, WorkStatus.FAILED):
            builder.emit(WorkFailed(flow_id, step.id, token, error))
        case NotCompleted(error) if item.status is WorkStatus.ACTIVE:
            builder.emit(WorkNotCompleted(flow_id, step.id, token, error))


def on_predicate(
    flow: FlowState,
    step_id: str,
    result: bool,
    error: str | None,
    context: Context,
) -> Decision:
    """Start, skip or fail a ready step by what its predicate said."""
    builder = Builder(flow, context, flow.version)
    execution = flow.executions[StepID(step_id)]
    if flow.status is not FlowStatus.ACTIVE or execution.status is not StepStatus.PENDING:
        return builder.done()  # paused or ended meanwhile: a resume asks again
    step = flow.plan.steps[StepID(step_id)]
    if error is not None:
        builder.emit(StepFailed(flow.id, step.id, f"predicate failed: {error}"))
    elif not result:
        builder.emit(StepSkipped(flow.id, step.id, "predicate returned false"))
    elif (inputs := _inputs(builder, step)) is not None:
        _start_step(builder, step, inputs)
    advance(builder)
    return builder.done()


def on_wake(flow: FlowState, context: Context) -> Decision:
    """A timer fired: start the retries that are due and carry the flow on."""
    builder = Builder(flow, context, flow.version)
    advance(builder)
    return builder.done()


def on_takeover(flow: FlowState, context: Context, is_dead: Callable[[str], bool]) -> Decision:
    """Take on the open work of dead instances (after a crash, or another engine's death).

    A running item whose owner is dead is claimed with a new ``work_started`` under
    the same token (the append is the claim: of several survivors only one wins) and
    run again; a retry it had scheduled gets a wake-up here. Then the flow moves on.
    Only an active flow's work is taken on: nothing starts in a paused flow (its
    work is taken on after the resume) or in one that has ended.
    """
    builder = Builder(flow, context, flow.version)
    if flow.status.ended:
        compensate.take_over(builder, is_dead)
    if flow.status is not FlowStatus.ACTIVE:
        return builder.done()  # a paused flow's work is taken on once resumed
    for step_id, execution in flow.executions.items():
        step = flow.plan.steps[step_id]
        for token, item in execution.work_items.items():
            if not is_dead(item.owner):
                continue
            if item.status is WorkStatus.ACTIVE:
                _run(builder, step, token, item)
            elif item.status is WorkStatus.NOT_COMPLETED and item.next_retry_at is not None:
                builder.effect(ScheduleWake(flow.id, item.next_retry_at))
    advance(builder)
    return builder.done()


def on_compensation(
    flow: FlowState, step_id: str, token: str, outcome: Outcome, context: Context
) -> Decision:
    """Record a compensation call's result (Succeeded: undone; NotCompleted: retried)."""
    builder = Builder(flow, context, flow.version)
    error = None if isinstance(outcome, Succeeded) else outcome.error
    compensate.record(builder, step_id, token, error, transient=isinstance(outcome, NotCompleted))
    return builder.done()


def on_slot_granted(
    flow: FlowState, step_id: str, token: str, claim_from: str, context: Context
) -> Decision:
    """Start a work item the store granted a slot, if it still waits for one.

    Nothing is decided for an item that no longer waits (it ended, another instance
    claimed it, its flow ended) or would exceed the step's ``parallelism``; the
    runtime then gives the slot back.
    """
    builder = Builder(flow, context, flow.version)
    execution = flow.executions.get(StepID(step_id))
    item = execution.work_items.get(Token(token)) if execution else None
    if flow.status is not FlowStatus.ACTIVE or execution is None or item is None:
        return builder.done()
    step = flow.plan.steps[StepID(step_id)]
    match item.status:
        case WorkStatus.PENDING if _busy(execution) < step.work_config.parallelism:
            _start_work(builder, step, Token(token), item)
        case WorkStatus.NOT_COMPLETED if _due(item, builder.now):
            _start_work(builder, step, Token(token), item)
        case WorkStatus.ACTIVE if claim_from and item.owner == claim_from:
            _start_work(builder, step, Token(token), item)
    return builder.done()


# ---------------------------------------------------------------- internals


def webhook_deadline(step: Step, item: WorkItem) -> datetime | None:
    """When an async attempt that is still waiting for its webhook is given up."""
    timeout = step.http.callback_timeout if step.http is not None else None
    if (
        timeout is None
        or step.type is not StepType.ASYNC
        or item.status is not WorkStatus.ACTIVE
        or item.started_at is None
    ):
        return None
    return item.started_at + timedelta(milliseconds=timeout)


def _give_up_waiting(builder: Builder) -> None:
    """Async attempts whose webhook did not come in time: not completed, retried as usual."""
    for step_id, execution in builder.flow.executions.items():
        if execution.status is not StepStatus.ACTIVE:
            continue
        step = builder.flow.plan.steps[step_id]
        for token, item in execution.work_items.items():
            due = webhook_deadline(step, item)
            if due is not None and due <= builder.now:
                timeout = step.http.callback_timeout  # type: ignore[union-attr]
                _not_completed(builder, step, token, item, f"no webhook within {timeout} ms")


def _timed_out(builder: Builder) -> bool:
    """Fail a flow that is still running at its deadline."""
    flow = builder.flow
    if flow.deadline is None or flow.status.ended or builder.now < flow.deadline:
        return False
    allowed = round((flow.deadline - flow.created_at).total_seconds() * 1000)
    builder.emit(FlowFailed(flow.id, f"flow timed out after {allowed} ms"))
    builder.effect(StopWork(flow.id))
    return True


def _takes(item: WorkItem, status: WorkStatus) -> bool:
    """Whether a result moving ``item`` to ``status`` is still taken (a repeat is not)."""
    return can_transition(WORK_TRANSITIONS, item.status, status)


def _memo_source(outcome: Outcome) -> MemoSource | None:
    if isinstance(outcome, Memoized):
        return MemoSource(outcome.flow_id, outcome.seq)
    return None


def _succeed(
    builder: Builder,
    step: Step,
    token: Token,
    outputs: Mapping[str, Any],
    memo: MemoSource | None = None,
) -> None:
    """Record the service's response; its outputs, mapped, must be of their declared types."""
    flow_id = builder.flow.id
    try:
        mapped = flow_outputs(step, outputs, builder.context.evaluate)
    except MappingFailed as exc:
        builder.emit(WorkFailed(flow_id, step.id, token, str(exc)))
        return
    wrong = [
        f"output {name!r} must be of type {step.attributes[name].type}"
        for name, value in mapped.items()
        if not matches_type(value, step.attributes[name].type)
    ]
    if wrong:
        builder.emit(WorkFailed(flow_id, step.id, token, "; ".join(wrong)))
    else:
        builder.emit(WorkSucceeded(flow_id, step.id, token, dict(outputs), memo))


def _not_completed(builder: Builder, step: Step, token: Token, item: WorkItem, error: str) -> None:
    flow_id = builder.flow.id
    builder.emit(WorkNotCompleted(flow_id, step.id, token, error))
    retry = builder.next_retry(step.work_config, item.retry_count)
    if retry is None:
        reason = f"{error} (gave up after {_retries(item.retry_count)})"
        builder.emit(WorkFailed(flow_id, step.id, token, reason))
        return
    count, due = retry
    builder.emit(WorkRetryScheduled(flow_id, step.id, token, count, due))
    builder.wake(due)


def _retries(count: int) -> str:
    """The retries that really ran, as a failure names them: "1 retry", "3 retries"."""
    if count == 0:
        return "no retries"
    return f"{count} retr{'y' if count == 1 else 'ies'}"


def advance(builder: Builder) -> None:
    """Apply every rule that can fire until none can; then hand out runnable work.

    A paused flow only settles the steps whose work has ended; it neither starts
    anything nor ends (that waits for the resume). The deadline ends either.
    """
    if _timed_out(builder):
        return
    if builder.flow.status is FlowStatus.ACTIVE:
        _give_up_waiting(builder)
    steps = builder.flow.plan.steps
    progressed = True
    while progressed:
        progressed = False
        for step_id in steps:
            if builder.flow.executions[step_id].status is StepStatus.ACTIVE:
                progressed |= _settle(builder, step_id)
        if builder.flow.status is not FlowStatus.ACTIVE or _finish(builder):
            break
        for step_id in steps:
            if builder.flow.executions[step_id].status is StepStatus.PENDING:
                progressed |= _consider(builder, step_id)
    if builder.flow.status is FlowStatus.ACTIVE:
        for step_id, execution in builder.flow.executions.items():
            if execution.status is StepStatus.ACTIVE:
                _dispatch(builder, step_id, execution)


def _settle(builder: Builder, step_id: StepID) -> bool:
    """End an active step whose work items have all ended (or one has failed)."""
    execution = builder.flow.executions[step_id]
    items = execution.work_items.values()
    failed = next((item for item in items if item.status is WorkStatus.FAILED), None)
    flow_id = builder.flow.id
    if failed is not None:
        builder.emit(StepFailed(flow_id, step_id, failed.error or "work failed"))
        return True
    if any(item.status is not WorkStatus.SUCCEEDED for item in items):
        return False
    step = builder.flow.plan.steps[step_id]
    try:
        outputs = step_outputs(step, execution, builder.context.evaluate)
    except MappingFailed as exc:
        builder.emit(StepFailed(flow_id, step_id, str(exc)))
        return True
    for name, value in outputs.items():
        if name not in builder.flow.attributes:
            builder.emit(AttributeSet(flow_id, step_id, name, value))
    builder.emit(StepCompleted(flow_id, step_id, outputs))
    return True


def _consider(builder: Builder, step_id: StepID) -> bool:
    """Start, or end as unreachable, a pending step; False while it must wait (argyll.collect)."""
    flow, step = builder.flow, builder.flow.plan.steps[step_id]
    match collect.readiness(flow, step, builder.now, builder.context.test):
        case collect.Waiting(wake_at=at):
            if at is not None and ScheduleWake(flow.id, at) not in builder.decision.effects:
                builder.effect(ScheduleWake(flow.id, at))
            return False
        case collect.Unsatisfied(inputs=names, reason=reason, failed=failed):
            if failed:
                builder.emit(StepFailed(flow.id, step_id, reason, names))
            else:
                builder.emit(StepSkipped(flow.id, step_id, reason, unsatisfied=names))
            return True
        case collect.Ready(inputs=collected):
            inputs = _with_consts(flow, step, collected)
            if step.predicate is not None:
                facts = {**inputs, **meta_values(flow, step)}
                builder.effect(EvaluatePredicate(flow.id, step, facts))
                return False
            return _start_step(builder, step, inputs)
    return False


def _inputs(builder: Builder, step: Step) -> dict[str, Any] | None:
    """The inputs the flow gives a step that is ready to start (None: it is not)."""
    ready = collect.readiness(builder.flow, step, builder.now, builder.context.test)
    if not isinstance(ready, collect.Ready):
        return None
    return _with_consts(builder.flow, step, ready.inputs)


def _with_consts(flow: FlowState, step: Step, collected: Mapping[str, Any]) -> dict[str, Any]:
    """The step's inputs as the flow gives them: the collected values and its const inputs."""
    return {**collected, **const_values(step, flow.init)}


def _start_step(builder: Builder, step: Step, inputs: dict[str, Any]) -> bool:
    fan = [name for name in step.for_each_inputs if name in inputs]
    not_arrays = [name for name in fan if not isinstance(inputs[name], list)]
    if not_arrays:
        error = f"for_each input {not_arrays[0]!r} is not an array"
        builder.emit(StepFailed(builder.flow.id, step.id, error))
        return True
    combos = itertools.product(*(inputs[name] for name in fan))
    try:
        items = {
            Token(builder.context.new_token()): service_inputs(
                step, {**inputs, **dict(zip(fan, combo, strict=True))}, builder.context.evaluate
            )
            for combo in combos
        }
    except MappingFailed as exc:
        builder.emit(StepFailed(builder.flow.id, step.id, str(exc)))
        return True
    builder.emit(StepStarted(builder.flow.id, step.id, inputs, items))
    return True


def _dispatch(builder: Builder, step_id: StepID, execution: Execution) -> None:
    """Start due retries and pending items, keeping at most ``parallelism`` running."""
    step = builder.flow.plan.steps[step_id]
    waiting: list[tuple[Token, WorkItem]] = []
    for token, item in execution.work_items.items():
        if item.status is WorkStatus.PENDING:
            waiting.append((token, item))
        elif item.status is WorkStatus.NOT_COMPLETED and _due(item, builder.now):
            _run(builder, step, token, item)
    free = step.work_config.parallelism - _busy(execution)
    for token, item in waiting[: max(free, 0)]:
        _run(builder, step, token, item)


def _busy(execution: Execution) -> int:
    """Items counted against ``parallelism``: running, or with a retry scheduled."""
    return sum(
        item.status is WorkStatus.ACTIVE
        or (item.status is WorkStatus.NOT_COMPLETED and item.next_retry_at is not None)
        for item in execution.work_items.values()
    )


def _due(item: WorkItem, now: datetime) -> bool:
    return item.next_retry_at is not None and item.next_retry_at <= now


def _run(builder: Builder, step: Step, token: Token, item: WorkItem) -> None:
    """Run the item now, or, for a step with a concurrency limit, once a slot is granted."""
    if step.work_config.concurrency is not None:
        claim_from = item.owner if item.status is WorkStatus.ACTIVE else ""
        builder.effect(AcquireSlot(builder.flow.id, step, token, claim_from))
    else:
        _start_work(builder, step, token, item)


def _start_work(builder: Builder, step: Step, token: Token, item: WorkItem) -> None:
    instance = builder.context.instance
    builder.emit(WorkStarted(builder.flow.id, step.id, token, item.retry_count, instance))
    inputs = {**item.inputs, **meta_values(builder.flow, step, token)}
    builder.effect(RunWork(builder.flow.id, step, token, inputs, item.retry_count))
    started = builder.flow.executions[step.id].work_items[token]
    due = webhook_deadline(step, started)
    if due is not None:
        builder.effect(ScheduleWake(builder.flow.id, due))


def _finish(builder: Builder) -> bool:
    """End the flow: failed as soon as a goal fails, completed when every goal has ended."""
    flow = builder.flow
    statuses = {goal: flow.executions[goal] for goal in flow.plan.goals}
    for goal, execution in statuses.items():
        if execution.status is StepStatus.FAILED:
            builder.emit(FlowFailed(flow.id, f"goal step {goal!r} failed: {execution.error}"))
            return True
    if all(e.status in (StepStatus.COMPLETED, StepStatus.SKIPPED) for e in statuses.values()):
        builder.emit(FlowCompleted(flow.id))
        return True
    return False
