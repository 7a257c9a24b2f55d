"""How a pending step's inputs get their values: collect modes, match gates, deadlines.

An input's *candidates* are the values the flow holds for it, in completion order
(init's first, then each provider's ``step_completed``), each with the time it
arrived: its provider's completion, or the flow's start for init. The input's
``collect`` mode turns the candidates into a value, and says when that value is
final — ``first`` as soon as one exists, the others once every provider in the
plan has ended (``all`` gives up as soon as one ends without the value). A
``required.match`` script filters the candidates first; ``none`` inverts the
question: the input is satisfied only by the absence of a (matching) value.

An optional input with ``optional.deadline`` stops waiting that many
milliseconds after the step's required inputs were satisfied (after the flow's
start for a step with none) and takes the best value its mode allows from the
candidates that had arrived by then. Every moment here is derived from recorded
times, so the same state gives the same answer whenever it is asked: a deadline
that fired late, or after a restart, decides what it would have decided on time.

``readiness`` is the whole answer for one step: wait (maybe until a deadline),
end it (``unsatisfied`` names the inputs why), or start it with these inputs.
Match scripts run here through the decision context's ``test``, never in appliers: what
they decided is in the ``step_started`` inputs or the ``step_skipped`` that follows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from argyll.errors import ScriptError
from argyll.model import (
    AttributeSpec,
    AttributeValue,
    Collect,
    FlowState,
    Role,
    ScriptConfig,
    Step,
    StepID,
    StepStatus,
)
from argyll.script.result import is_truthy

Test = Callable[[ScriptConfig, Mapping[str, Any]], Any]
"""A match gate's truth for ``{"value": candidate}`` (the decider context's ``test``)."""


# ------------------------------------------------------------------ answers


@dataclass(frozen=True, slots=True)
class Waiting:
    """Not yet: an input's providers are still running; ``wake_at`` is a deadline to wake at."""

    wake_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Unsatisfied:
    """The step can never run: ``inputs`` are why; ``failed`` when a provider's failure is."""

    inputs: tuple[str, ...]
    reason: str
    failed: bool = False


@dataclass(frozen=True, slots=True)
class Ready:
    """Every input is settled: the step starts with ``inputs``."""

    inputs: dict[str, Any] = field(default_factory=dict)


Readiness = Waiting | Unsatisfied | Ready


# ---------------------------------------------------------------- candidates


def candidates(flow: FlowState, name: str) -> tuple[AttributeValue, ...]:
    """Every value the flow holds for ``name``, in completion order."""
    attribute = flow.attributes.get(name)
    if attribute is None:
        return ()
    return attribute.values or (attribute,)


def with_candidate(attribute: AttributeValue, value: Any, step: StepID) -> AttributeValue:
    """``attribute`` once another provider's value arrived (the first value stays its value)."""
    return AttributeValue(
        attribute.value,
        attribute.step,
        (*(attribute.values or (attribute,)), AttributeValue(value, step)),
    )


@dataclass(frozen=True, slots=True)
class _Candidate:
    value: Any
    at: datetime


def _arrived(flow: FlowState, value: AttributeValue) -> datetime:
    """When a candidate arrived: its provider's completion, or the flow's start for init (and
    for a value whose provider a retry has reset: it was there before the retry)."""
    execution = flow.executions.get(value.step) if value.step is not None else None
    return (execution.completed_at if execution else None) or flow.created_at


@dataclass(frozen=True, slots=True)
class _Providers:
    """What the plan's providers of one attribute have done about it."""

    ended: bool
    ended_at: datetime
    lost: StepID | None
    """The first provider that ended without producing the attribute."""
    failed: StepID | None
    """The first provider that failed."""


def _providers(flow: FlowState, name: str) -> _Providers:
    ended, ended_at = True, flow.created_at
    lost: StepID | None = None
    failed: StepID | None = None
    for provider in flow.plan.providers(name):
        execution = flow.executions[provider]
        if not execution.status.ended:
            ended = False
            continue
        ended_at = max(ended_at, execution.completed_at or ended_at)
        produced = execution.status is StepStatus.COMPLETED and name in (execution.outputs or {})
        if not produced:
            lost = lost or provider
        if execution.status is StepStatus.FAILED:
            failed = failed or provider
    return _Providers(ended, ended_at, lost, failed)


# ---------------------------------------------------------------- one input


class _Kind(Enum):
    WAIT = "wait"
    VALUE = "value"
    ABSENT = "absent"
    """Settled with no value: a ``none`` input whose providers all ended without one."""
    LOST = "lost"
    """Can never be satisfied."""


@dataclass(frozen=True, slots=True)
class _Settled:
    kind: _Kind
    value: Any = None
    since: datetime | None = None
    why: str = ""
    failed: bool = False
    blocks: bool = False
    """Lost because a value exists where none may (``none``): blocks even an optional input."""


_WAIT = _Settled(_Kind.WAIT)


def _matching(
    spec: AttributeSpec, name: str, found: Sequence[_Candidate], test: Test
) -> tuple[list[_Candidate], int]:
    """The candidates the input's match accepts, and how many it refused.

    ``first`` stops at the first match: the rest cannot change its value.
    """
    if spec.match is None:
        return list(found), 0
    matched, refused = [], 0
    for candidate in found:
        try:
            accepted = is_truthy(test(spec.match, {"value": candidate.value}))
        except ScriptError as error:
            raise _MatchError(name, str(error)) from error
        if accepted:
            matched.append(candidate)
            if spec.collect is Collect.FIRST:
                break
        else:
            refused += 1
    return matched, refused


class _MatchError(Exception):
    def __init__(self, name: str, error: str) -> None:
        super().__init__(f"match of input {name!r} failed: {error}")
        self.name = name


def _gathered(found: Sequence[_Candidate]) -> list[Any]:
    return [candidate.value for candidate in found]


def _settle(
    spec: AttributeSpec,
    name: str,
    found: Sequence[_Candidate],
    providers: _Providers,
    test: Test,
) -> _Settled:
    """The input as the flow stands: its value, if the mode can tell it yet."""
    matched, refused = _matching(spec, name, found, test)
    match spec.collect:
        case Collect.FIRST:
            if matched:
                return _Settled(_Kind.VALUE, matched[0].value, matched[0].at)
        case Collect.NONE:
            if matched:
                gate = "matched" if spec.match is not None else "produced"
                why = f"input {name!r} collects none but a value was {gate}"
                return _Settled(_Kind.LOST, why=why, since=matched[0].at, blocks=True)
            if providers.ended:
                return _Settled(_Kind.ABSENT, since=providers.ended_at)
        case Collect.ALL:
            if refused:
                return _Settled(_Kind.LOST, why=f"not every value of input {name!r} matched")
            if providers.lost is not None:
                why = f"input {name!r} not produced by step {providers.lost!r}"
                return _Settled(_Kind.LOST, why=why, failed=providers.failed is not None)
            if providers.ended and matched:
                return _Settled(_Kind.VALUE, _gathered(matched), providers.ended_at)
        case Collect.LAST if providers.ended and matched:
            return _Settled(_Kind.VALUE, matched[-1].value, providers.ended_at)
        case Collect.SOME if providers.ended and matched:
            return _Settled(_Kind.VALUE, _gathered(matched), providers.ended_at)
    return _unproduced(name, providers, refused) if providers.ended else _WAIT


def _unproduced(name: str, providers: _Providers, refused: int) -> _Settled:
    """Every provider ended without a (matching) value: Part 1's messages when none matched."""
    if refused:
        return _Settled(_Kind.LOST, why=f"required input {name!r} did not match")
    if providers.failed is not None:
        why = f"required input {name!r} cannot be produced: step {providers.failed!r} failed"
        return _Settled(_Kind.LOST, why=why, failed=True)
    return _Settled(_Kind.LOST, why=f"required input {name!r} not produced")


def _at_cutoff(
    spec: AttributeSpec, name: str, found: Sequence[_Candidate], at: datetime
) -> _Settled:
    """The best value the mode allows from what had arrived by the deadline ``at``.

    ``all`` takes only a complete collection, which settles before its deadline or never.
    """
    arrived = [candidate for candidate in found if candidate.at <= at]
    fallback = _Settled(_Kind.ABSENT, since=at)
    if not arrived:
        return fallback
    match spec.collect:
        case Collect.FIRST:
            return _Settled(_Kind.VALUE, arrived[0].value, at)
        case Collect.LAST:
            return _Settled(_Kind.VALUE, arrived[-1].value, at)
        case Collect.SOME:
            return _Settled(_Kind.VALUE, _gathered(arrived), at)
        case Collect.NONE:
            why = f"input {name!r} collects none but a value was produced"
            return _Settled(_Kind.LOST, why=why, blocks=True)
    return fallback


def _optional(
    flow: FlowState,
    name: str,
    spec: AttributeSpec,
    anchor: datetime,
    now: datetime,
    test: Test,
) -> _Settled:
    """An optional input: settled, past its deadline (the best value then), or waiting."""
    settled = _input(flow, name, spec, test)
    if spec.deadline is None or (settled.kind is _Kind.LOST and not settled.blocks):
        return settled  # lost: the default or nothing, whenever it was lost
    at = anchor + timedelta(milliseconds=spec.deadline)
    if settled.kind is not _Kind.WAIT and settled.since is not None and settled.since <= at:
        return settled
    if now < at:
        return _Settled(_Kind.WAIT, since=at)
    return _at_cutoff(spec, name, _found(flow, name), at)


# ---------------------------------------------------------------- one step


def readiness(flow: FlowState, step: Step, now: datetime, test: Test) -> Readiness:
    """Whether a pending step waits, can never run, or starts, and with which inputs."""
    try:
        return _readiness(flow, step, now, test)
    except _MatchError as error:
        return Unsatisfied((error.name,), str(error), failed=True)


def _readiness(flow: FlowState, step: Step, now: datetime, test: Test) -> Readiness:
    """Required inputs first, then the optional ones, which count deadlines from them.

    A ``first`` input without a match (Part 1's kind) is settled once the flow holds it;
    the others are looked at whole, so a gate can end the step while providers still run.
    Of Part 1's kind still missing, the first decides: it waits, or it is lost.
    """
    specs = step.inputs
    attributes = flow.attributes
    settled: dict[str, _Settled] = {}
    missing: tuple[str, AttributeSpec] | None = None
    for name, spec in specs.items():
        if spec.role is not Role.REQUIRED:
            continue
        if spec.collect is not Collect.FIRST or spec.match is not None:
            settled[name] = _input(flow, name, spec, test)
        elif name not in attributes and missing is None:
            missing = (name, spec)
    lost = {name: s for name, s in settled.items() if s.kind is _Kind.LOST}
    if lost:
        return _unsatisfied(lost)
    if missing is not None:
        name, spec = missing
        answer = _settle(spec, name, (), _providers(flow, name), test)
        return _unsatisfied({name: answer}) if answer.kind is _Kind.LOST else Waiting()
    if any(s.kind is _Kind.WAIT for s in settled.values()):
        return Waiting()
    optional = {name: spec for name, spec in specs.items() if spec.role is Role.OPTIONAL}
    if any(spec.deadline is not None for spec in optional.values()):
        anchor = _anchor(flow, step, settled)
    else:
        anchor = flow.created_at
    for name, spec in optional.items():
        settled[name] = _optional(flow, name, spec, anchor, now, test)
    blocked = {name: s for name, s in settled.items() if s.blocks}
    if blocked:
        return _unsatisfied(blocked)
    waits = [s for s in settled.values() if s.kind is _Kind.WAIT]
    if waits:
        return Waiting(min((s.since for s in waits if s.since), default=None))
    return Ready(_inputs(flow, specs, settled))


def _anchor(flow: FlowState, step: Step, settled: Mapping[str, _Settled]) -> datetime:
    """When the step's required inputs were all satisfied (the flow's start if it has none)."""
    times = [flow.created_at]
    for name in step.required_inputs:
        since = settled[name].since if name in settled else _arrived(flow, flow.attributes[name])
        times.append(since or flow.created_at)
    return max(times)


def _input(flow: FlowState, name: str, spec: AttributeSpec, test: Test) -> _Settled:
    attribute = flow.attributes.get(name)
    if attribute is not None and spec.collect is Collect.FIRST and spec.match is None:
        return _Settled(_Kind.VALUE, attribute.value, _arrived(flow, attribute))  # Part 1's case
    return _settle(spec, name, _found(flow, name), _providers(flow, name), test)


def _found(flow: FlowState, name: str) -> list[_Candidate]:
    return [_Candidate(value.value, _arrived(flow, value)) for value in candidates(flow, name)]


def _unsatisfied(lost: Mapping[str, _Settled]) -> Unsatisfied:
    first = next(iter(lost.values()))
    failed = any(s.failed for s in lost.values())
    return Unsatisfied(tuple(sorted(lost)), first.why, failed)


def _inputs(
    flow: FlowState, specs: Mapping[str, AttributeSpec], settled: Mapping[str, _Settled]
) -> dict[str, Any]:
    """Each input's value in the step's order: collected, else the default, else left out."""
    inputs: dict[str, Any] = {}
    for name, spec in specs.items():
        answer = settled.get(name)
        if answer is None:
            inputs[name] = flow.attributes[name].value  # a required input of Part 1's kind
        elif answer.kind is _Kind.VALUE:
            inputs[name] = answer.value
        elif spec.default is not None:
            inputs[name] = spec.default_value()
    return inputs


def still_collecting(flow: FlowState, name: str, spec: AttributeSpec) -> bool:
    """Whether an input may still take values from a provider that has not ended."""
    if all(flow.executions[p].status.ended for p in flow.plan.providers(name)):
        return False
    settled_by_one = spec.collect is Collect.FIRST and spec.match is None
    return name not in flow.attributes or not settled_by_one


def deadlines(flow: FlowState, now: datetime, test: Test) -> list[datetime]:
    """When the flow's pending steps stop waiting for optional inputs (wakes to keep)."""
    wakes = []
    for step_id, execution in flow.executions.items():
        step = flow.plan.steps[step_id]
        if execution.status is not StepStatus.PENDING or not _has_deadline(step):
            continue
        answer = readiness(flow, step, now, test)
        if isinstance(answer, Waiting) and answer.wake_at is not None:
            wakes.append(answer.wake_at)
    return wakes


def _has_deadline(step: Step) -> bool:
    return any(step.attributes[name].deadline is not None for name in step.optional_inputs)
