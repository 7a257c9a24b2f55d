"""Explain a flow: for every step of its plan, why it is where it is, from its events alone.

``explain(state, events, catalog)`` answers "why is my step not running?" with a
reason code per step (``REASONS``) and the facts behind it: the inputs a step
waits for and what their providers are doing, when a retry is due, who resolved
a step by hand. ``state`` is the fold of ``events`` (the engine passes the one
it holds, so a long flow is not folded again); the events add what a state does
not keep: how many attempts each step made and who acted on it. ``catalog``
only serves ``not_in_plan``: steps that could have provided an input but were
left out, and why. ``describe`` turns an entry into the sentence the CLI and
the dashboard show.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from argyll import subflow
from argyll.collect import still_collecting
from argyll.compensate import COMPENSATION_STATUSES
from argyll.decide import CANCELED_REASON
from argyll.events import Event, FlowRetried, StepCompleted, StepSkipped, WorkStarted
from argyll.model import (
    Catalog,
    Execution,
    FlowState,
    FlowStatus,
    Step,
    StepID,
    StepStatus,
    StepType,
    WorkStatus,
    compensation_summary,
    iso,
    json_text,
)

RAN = "ran"
RUNNING = "running"
WAITING_FOR_INPUTS = "waiting_for_inputs"
QUEUED = "queued"
RETRY_SCHEDULED = "retry_scheduled"
PAUSED = "paused"
PREDICATE_FALSE = "predicate_false"
INPUTS_UNREACHABLE = "inputs_unreachable"
INPUTS_UNSATISFIED = "inputs_unsatisfied"
FAILED = "failed"
MANUAL = "manual"
FLOW_CANCELED = "flow_canceled"
FLOW_ENDED = "flow_ended"
SATISFIED_BY_INIT = "satisfied_by_init"
NOT_NEEDED = "not_needed"
INPUTS_MISSING = "inputs_missing"
BLOCKED_BY_INIT = "blocked_by_init"
LEFT_OUT_REASONS = (SATISFIED_BY_INIT, NOT_NEEDED, INPUTS_MISSING, BLOCKED_BY_INIT)
"""Why a provider of a planned step's input is not in the plan (``not_in_plan``)."""

REASONS: Mapping[str, frozenset[StepStatus]] = {
    RAN: frozenset({StepStatus.COMPLETED}),
    RUNNING: frozenset({StepStatus.ACTIVE}),
    WAITING_FOR_INPUTS: frozenset({StepStatus.PENDING}),
    QUEUED: frozenset({StepStatus.PENDING, StepStatus.ACTIVE}),
    RETRY_SCHEDULED: frozenset({StepStatus.ACTIVE}),
    PAUSED: frozenset({StepStatus.PENDING, StepStatus.ACTIVE}),
    PREDICATE_FALSE: frozenset({StepStatus.SKIPPED}),
    INPUTS_UNREACHABLE: frozenset({StepStatus.SKIPPED, StepStatus.FAILED}),
    INPUTS_UNSATISFIED: frozenset({StepStatus.SKIPPED, StepStatus.FAILED}),
    FAILED: frozenset({StepStatus.FAILED}),
    MANUAL: frozenset({StepStatus.COMPLETED, StepStatus.SKIPPED}),
    FLOW_CANCELED: frozenset({StepStatus.SKIPPED}),
    FLOW_ENDED: frozenset({StepStatus.PENDING, StepStatus.ACTIVE}),
}
"""Each reason code and the step statuses it may explain (the property tests hold it)."""


@dataclass(frozen=True, slots=True)
class Reason:
    status: StepStatus | None
    reason: str
    detail: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"reason": self.reason, "detail": dict(self.detail)}
        return {"status": self.status.value, **out} if self.status is not None else out


@dataclass(frozen=True, slots=True)
class Explanation:
    flow_id: str
    status: FlowStatus
    steps: Mapping[StepID, Reason]
    not_in_plan: Mapping[StepID, Reason]
    compensation: Mapping[str, Any] | None = None
    """How the flow's undoing stands (``model.compensation_summary``), once it began."""

    def to_dict(self) -> dict[str, Any]:
        out = {
            "flow_id": self.flow_id,
            "status": self.status.value,
            "steps": {step_id: r.to_dict() for step_id, r in self.steps.items()},
            "not_in_plan": {step_id: r.to_dict() for step_id, r in self.not_in_plan.items()},
        }
        if self.compensation is not None:
            out["compensation"] = dict(self.compensation)
        return out


@dataclass(slots=True)
class _History:
    """What the events say that the state does not: attempts, and who acted by hand.

    Both count from the step's latest (re)start: a retry that runs a step again
    forgets its earlier attempts and resolution, as its state does.
    """

    attempts: dict[StepID, int] = field(default_factory=dict)
    by_hand: dict[StepID, tuple[str, str | None]] = field(default_factory=dict)

    @classmethod
    def of(cls, events: Iterable[Event]) -> _History:
        history = cls()
        attempts, by_hand = history.attempts, history.by_hand
        for event in events:  # by exact type: this loop runs for every event of the flow
            data = event.data
            kind = type(data)
            if kind is WorkStarted:
                attempts[data.step_id] = attempts.get(data.step_id, 0) + 1
            elif kind is StepCompleted or kind is StepSkipped:
                if data.actor is not None:
                    by_hand[data.step_id] = (data.actor, data.reason)
            elif kind is FlowRetried:
                for step_id in data.steps:
                    attempts.pop(step_id, None)
                    by_hand.pop(step_id, None)
        return history


def explain(state: FlowState, events: Iterable[Event], catalog: Catalog) -> Explanation:
    """Why each planned step is where it is, and which providers the plan left out."""
    history = _History.of(events)
    steps = {
        step_id: _with_compensation(state, step_id, _step(state, step_id, history))
        for step_id in state.plan.steps
    }
    compensation = compensation_summary(state)
    return Explanation(state.id, state.status, steps, _not_in_plan(state, catalog), compensation)


def _with_compensation(flow: FlowState, step_id: StepID, reason: Reason) -> Reason:
    """A step whose work is being undone, or was, says so per item: ``detail.compensation``."""
    items = flow.executions[step_id].work_items
    undoing = {t: i.status.value for t, i in items.items() if i.status in COMPENSATION_STATUSES}
    if not undoing:
        return reason
    return Reason(reason.status, reason.reason, {**reason.detail, "compensation": undoing})


def _step(flow: FlowState, step_id: StepID, history: _History) -> Reason:
    execution = flow.executions[step_id]
    step = flow.plan.steps[step_id]
    status = execution.status
    attempts = history.attempts.get(step_id, 0)
    if step_id in history.by_hand and status in (StepStatus.COMPLETED, StepStatus.SKIPPED):
        actor, why = history.by_hand[step_id]
        return Reason(status, MANUAL, _present(actor=actor, reason=why))
    match status:
        case StepStatus.COMPLETED:
            return Reason(status, RAN, _ran(execution, attempts))
        case StepStatus.SKIPPED if execution.reason == CANCELED_REASON:
            return Reason(status, FLOW_CANCELED, {})
        case StepStatus.SKIPPED | StepStatus.FAILED if lost := _unreachable(flow, step):
            return Reason(status, INPUTS_UNREACHABLE, {"inputs": lost})
        case StepStatus.SKIPPED | StepStatus.FAILED if execution.unsatisfied:
            why = execution.reason or execution.error
            return Reason(
                status, INPUTS_UNSATISFIED, {"inputs": list(execution.unsatisfied), "why": why}
            )
        case StepStatus.SKIPPED:
            return Reason(status, PREDICATE_FALSE, _present(reason=execution.reason))
        case StepStatus.FAILED:
            return Reason(status, FAILED, {"error": execution.error, "attempts": attempts})
        case StepStatus.ACTIVE:
            return _with_children(flow, step, _active(flow, execution, status, attempts))
    return _pending(flow, step)


def _ran(execution: Execution, attempts: int) -> dict[str, Any]:
    """How many attempts; ``memo``: the results of earlier flows its items reused, if any."""
    reused = [dict(item.memo) for item in execution.work_items.values() if item.memo]
    return {"attempts": attempts, "memo": reused} if reused else {"attempts": attempts}


def _active(flow: FlowState, execution: Execution, status: StepStatus, attempts: int) -> Reason:
    items = execution.work_items.values()
    if flow.status.ended:
        return Reason(status, FLOW_ENDED, {"attempts": attempts})
    running = sum(item.status is WorkStatus.ACTIVE for item in items)
    if running:
        return Reason(status, RUNNING, {"work_items": running, "attempts": attempts})
    retries = [item for item in items if item.next_retry_at is not None]
    if retries:
        item = min(retries, key=lambda item: item.next_retry_at)  # type: ignore[arg-type,return-value]
        detail = {"next_retry_at": iso(item.next_retry_at), "attempts": attempts}  # type: ignore[arg-type]
        return Reason(status, RETRY_SCHEDULED, _present(**detail, error=item.error))
    if flow.status is FlowStatus.PAUSED:
        return Reason(status, PAUSED, {})
    return Reason(status, QUEUED, {"attempts": attempts})


def _with_children(flow: FlowState, step: Step, reason: Reason) -> Reason:
    """A running sub-flow step also names the child flows it waits for."""
    if reason.reason != RUNNING or step.type is not StepType.FLOW:
        return reason
    detail = {**reason.detail, "child_flows": subflow.step_children(flow, step.id)}
    return Reason(reason.status, RUNNING, detail)


def _pending(flow: FlowState, step: Step) -> Reason:
    status = StepStatus.PENDING
    if flow.status.ended:
        return Reason(status, FLOW_ENDED, {})
    missing = _waiting_for(flow, step)
    if missing:
        return Reason(status, WAITING_FOR_INPUTS, {"inputs": missing})
    if flow.status is FlowStatus.PAUSED:
        return Reason(status, PAUSED, {})
    return Reason(status, QUEUED, {})


def _providers(flow: FlowState, name: str) -> dict[str, str]:
    return {p: flow.executions[p].status.value for p in flow.plan.providers(name)}


def _waiting_for(flow: FlowState, step: Step) -> dict[str, Any]:
    """Inputs still collecting from providers that have not all ended, with their statuses."""
    return {
        name: {"providers": _providers(flow, name)}
        for name, spec in step.inputs.items()
        if still_collecting(flow, name, spec)
    }


def _unreachable(flow: FlowState, step: Step) -> dict[str, Any]:
    """Required inputs that were never set although every provider ended."""
    return {
        name: {"providers": _providers(flow, name)}
        for name in step.required_inputs
        if name not in flow.attributes
        and all(flow.executions[p].status.ended for p in flow.plan.providers(name))
    }


def _not_in_plan(flow: FlowState, catalog: Catalog) -> dict[StepID, Reason]:
    """Catalog steps that provide an input of a planned step but were left out of the plan."""
    left_out: dict[StepID, list[str]] = {}
    for step in flow.plan.steps.values():
        for name in step.inputs:
            for provider in catalog.providers.get(name, ()):
                if provider not in flow.plan.steps:
                    left_out.setdefault(StepID(provider), []).append(name)
    return {
        step_id: _left_out(flow, step_id, sorted(set(names)))
        for step_id, names in sorted(left_out.items())
    }


def _left_out(flow: FlowState, step_id: StepID, names: list[str]) -> Reason:
    """``names``: the planned steps' inputs it provides; the plan's ``excluded`` says why
    a provider that could not run was passed over (``inputs``: what it lacked)."""
    excluded = flow.plan.excluded
    for reason, group in ((INPUTS_MISSING, excluded.missing), (BLOCKED_BY_INIT, excluded.blocked)):
        if step_id in group:
            return Reason(None, reason, {"attributes": names, "inputs": list(group[step_id])})
    given = [name for name in names if name in flow.init]
    if given:
        return Reason(None, SATISFIED_BY_INIT, {"attributes": given})
    return Reason(None, NOT_NEEDED, {"attributes": names})


def _present(**detail: Any) -> dict[str, Any]:
    return {key: value for key, value in detail.items() if value is not None}


def describe(step_id: str, entry: Mapping[str, Any], names: Mapping[str, str] | None = None) -> str:
    """An explanation entry (``Reason.to_dict``) in plain words, for people."""
    text = _described(step_id, entry, names)
    undoing = entry.get("detail", {}).get("compensation")
    if undoing:
        text += "; undone: " + ", ".join(sorted(set(undoing.values())))
    return text


def _described(step_id: str, entry: Mapping[str, Any], names: Mapping[str, str] | None) -> str:
    detail = entry.get("detail", {})
    names = names or {}
    attempts = detail.get("attempts", 0)
    match entry["reason"]:
        case "ran" if detail.get("memo"):
            return f"ran ({_times(attempts)}; {_reused(detail['memo'])})"
        case "ran":
            return f"ran ({_times(attempts)})"
        case "running":
            return f"running (attempt {attempts})"
        case "waiting_for_inputs":
            return "waiting for " + _inputs(detail["inputs"], names, waiting=True)
        case "queued":
            return "ready; waiting for a free slot or its predicate"
        case "retry_scheduled":
            cause = f": {detail['error']}" if detail.get("error") else ""
            return f"retry {attempts} due at {detail['next_retry_at']}{cause}"
        case "paused":
            return "ready, but the flow is paused"
        case "predicate_false":
            return "skipped: its predicate returned false"
        case "inputs_unreachable":
            return "cannot run: " + _inputs(detail["inputs"], names, waiting=False)
        case "inputs_unsatisfied":
            return f"cannot run: {detail.get('why')}"
        case "failed":
            return f"failed after {_times(attempts)}: {detail.get('error')}"
        case "manual":
            why = f" ({detail['reason']})" if detail.get("reason") else ""
            return f"{entry.get('status', 'resolved')} by hand by {detail.get('actor')}{why}"
        case "flow_canceled":
            return "skipped: the flow was canceled"
        case "flow_ended":
            return "never started: the flow ended first"
        case "satisfied_by_init":
            return "left out: the flow's init gives " + ", ".join(detail["attributes"])
        case "not_needed":
            return "left out: not needed for " + ", ".join(detail["attributes"])
        case "inputs_missing":
            lacks = ", ".join(detail["inputs"])
            return f"left out: it cannot get {lacks}, and another provider can run"
        case "blocked_by_init":
            given = ", ".join(detail["inputs"])
            return f"left out: the flow's init gives {given}, which it needs absent"
    return entry["reason"]


def _reused(memo: list[Mapping[str, Any]]) -> str:
    if len(memo) == 1:
        return f"its result reused from flow {memo[0]['flow_id']}"
    return f"{len(memo)} results reused from earlier flows"


def _times(attempts: int) -> str:
    return f"{attempts} attempt{'' if attempts == 1 else 's'}"


def _inputs(inputs: Mapping[str, Any], names: Mapping[str, str], *, waiting: bool) -> str:
    parts = []
    for name, about in inputs.items():
        providers = about.get("providers", {})
        if not providers:
            parts.append(f"{json_text(name)} (no step provides it)")
            continue
        who = ", ".join(f"{names.get(p, p)} ({status})" for p, status in providers.items())
        parts.append(f"{json_text(name)} from {who}" if waiting else f"{json_text(name)}: {who}")
    return "; ".join(parts)
