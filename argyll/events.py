"""Event types of docs/events.md, the envelope, and the registry that decodes them.

One frozen class per event type, named as its wire name in past tense, with
the schema version of its fields. ``Event`` is the envelope a store hands back:
aggregate, gapless ``seq``, timestamp, the data, and the store's opaque global
``position``. Stored events go through ``argyll.codec``; ``to_dict``/``from_dict``
here are the current shape, which the REST and WebSocket envelopes carry.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from argyll.model import (
    FlowID,
    ParentRef,
    Plan,
    Step,
    StepID,
    Token,
    iso,
    parent_from_dict,
    parse_step,
    parse_time,
    plan_from_dict,
)

CATALOG = "catalog"
FLOW_PREFIX = "flow:"
ANONYMOUS = "anonymous"
"""The actor of a call made without a token."""
OPTIONAL_FIELDS = frozenset({"actor", "reason", "unsatisfied"})
"""Fields written only when set: who made a call and why, on the events an API call appends;
the inputs that ended a step without running it."""


def flow_aggregate(flow_id: str) -> str:
    return FLOW_PREFIX + flow_id


class EventData:
    """Base of every event payload; ``type`` is the wire name.

    ``schema_version`` numbers the shape of a type's fields as stored: change the
    fields, raise it, and give ``argyll.codec.UPCASTERS`` the step from the old shape.
    """

    __slots__ = ()
    type: ClassVar[str]
    schema_version: ClassVar[int] = 1
    _field_names: ClassVar[tuple[str, ...]] = ()

    def to_dict(self) -> dict[str, Any]:
        out = {name: getattr(self, name) for name in _names(type(self))}
        return _without_unset(out)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EventData:
        return cls(**{name: data[name] for name in _names(cls) if name in data})


def _without_unset(out: dict[str, Any]) -> dict[str, Any]:
    for name in OPTIONAL_FIELDS:
        if name in out and out[name] is None:
            del out[name]
    return out


def _names(cls: type[EventData]) -> tuple[str, ...]:
    names = cls.__dict__.get("_field_names")
    if not names:
        names = tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]
        cls._field_names = names
    return names


# ------------------------------------------------------------------- catalog


class _StepDefinition(EventData):
    """Catalog events that carry a whole step definition."""

    __slots__ = ()
    step: Step
    actor: str | None

    def to_dict(self) -> dict[str, Any]:
        out = {"step_id": self.step.id, "step": self.step.to_dict(), "actor": self.actor}
        return _without_unset(out)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EventData:
        return cls(parse_step(data["step"]), data.get("actor"))  # type: ignore[call-arg]


@dataclass(frozen=True, slots=True)
class StepRegistered(_StepDefinition):
    type: ClassVar[str] = "step_registered"
    step: Step
    actor: str | None = None


@dataclass(frozen=True, slots=True)
class StepUpdated(_StepDefinition):
    type: ClassVar[str] = "step_updated"
    step: Step
    actor: str | None = None


@dataclass(frozen=True, slots=True)
class StepUnregistered(EventData):
    type: ClassVar[str] = "step_unregistered"
    step_id: StepID
    actor: str | None = None


@dataclass(frozen=True, slots=True)
class StepHealthChanged(EventData):
    type: ClassVar[str] = "step_health_changed"
    step_id: StepID
    status: str
    error: str | None = None


# ---------------------------------------------------------------------- flow


@dataclass(frozen=True, slots=True)
class FlowStarted(EventData):
    type: ClassVar[str] = "flow_started"
    flow_id: FlowID
    plan: Plan
    init: Mapping[str, Any]
    deadline: datetime | None = None
    actor: str | None = None
    labels: Mapping[str, str] = dataclasses.field(default_factory=dict)
    parent: ParentRef | None = None
    """Set on a child flow: the parent flow, its sub-flow step and the work item's token."""

    def to_dict(self) -> dict[str, Any]:
        out = {"flow_id": self.flow_id, "plan": self.plan.to_dict(), "init": dict(self.init)}
        if self.deadline is not None:
            out["deadline"] = iso(self.deadline)
        if self.labels:
            out["labels"] = dict(self.labels)
        if self.parent is not None:
            out["parent"] = self.parent.to_dict()
        out["actor"] = self.actor
        return _without_unset(out)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EventData:
        deadline = data.get("deadline")
        return cls(
            data["flow_id"],
            plan_from_dict(data["plan"]),
            data["init"],
            parse_time(deadline) if deadline else None,
            data.get("actor"),
            dict(data.get("labels", {})),
            parent_from_dict(data["parent"]) if data.get("parent") else None,
        )


@dataclass(frozen=True, slots=True)
class StepStarted(EventData):
    type: ClassVar[str] = "step_started"
    flow_id: FlowID
    step_id: StepID
    inputs: Mapping[str, Any]
    work_items: Mapping[Token, Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class WorkStarted(EventData):
    type: ClassVar[str] = "work_started"
    flow_id: FlowID
    step_id: StepID
    token: Token
    retry_count: int = 0
    instance: str = ""


@dataclass(frozen=True, slots=True)
class MemoSource:
    """Where a memo hit's outputs came from: the ``work_succeeded`` at ``seq`` of the flow."""

    flow_id: FlowID
    seq: int

    def to_dict(self) -> dict[str, Any]:
        return {"flow_id": self.flow_id, "seq": self.seq}


@dataclass(frozen=True, slots=True)
class WorkSucceeded(EventData):
    """A work item's outputs; ``memo`` is set when they were a memo hit (nothing was called)."""

    type: ClassVar[str] = "work_succeeded"
    flow_id: FlowID
    step_id: StepID
    token: Token
    outputs: Mapping[str, Any]
    memo: MemoSource | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {
            "flow_id": self.flow_id,
            "step_id": self.step_id,
            "token": self.token,
            "outputs": self.outputs,
        }
        if self.memo is not None:
            out["memo"] = self.memo.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EventData:
        memo = data.get("memo")
        source = None if memo is None else MemoSource(memo["flow_id"], memo["seq"])
        return cls(data["flow_id"], data["step_id"], data["token"], data["outputs"], source)


@dataclass(frozen=True, slots=True)
class WorkFailed(EventData):
    type: ClassVar[str] = "work_failed"
    flow_id: FlowID
    step_id: StepID
    token: Token
    error: str


@dataclass(frozen=True, slots=True)
class WorkNotCompleted(EventData):
    type: ClassVar[str] = "work_not_completed"
    flow_id: FlowID
    step_id: StepID
    token: Token
    error: str


@dataclass(frozen=True, slots=True)
class WorkRetryScheduled(EventData):
    type: ClassVar[str] = "work_retry_scheduled"
    flow_id: FlowID
    step_id: StepID
    token: Token
    retry_count: int
    next_retry_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "flow_id": self.flow_id,
            "step_id": self.step_id,
            "token": self.token,
            "retry_count": self.retry_count,
            "next_retry_at": iso(self.next_retry_at),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EventData:
        return cls(
            data["flow_id"],
            data["step_id"],
            data["token"],
            data["retry_count"],
            parse_time(data["next_retry_at"]),
        )


@dataclass(frozen=True, slots=True)
class AttributeSet(EventData):
    type: ClassVar[str] = "attribute_set"
    flow_id: FlowID
    step_id: StepID
    name: str
    value: Any


@dataclass(frozen=True, slots=True)
class StepCompleted(EventData):
    """A step's outputs; ``actor`` is set when someone completed it by hand."""

    type: ClassVar[str] = "step_completed"
    flow_id: FlowID
    step_id: StepID
    outputs: Mapping[str, Any]
    actor: str | None = None
    reason: str | None = None


class _Unsatisfiable(EventData):
    """Step endings that may name the inputs that ended the step without running it."""

    __slots__ = ()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EventData:
        names = data.get("unsatisfied")
        fields = {name: data[name] for name in _names(cls) if name in data}
        return cls(**{**fields, "unsatisfied": tuple(names) if names else None})


@dataclass(frozen=True, slots=True)
class StepFailed(_Unsatisfiable):
    type: ClassVar[str] = "step_failed"
    flow_id: FlowID
    step_id: StepID
    error: str
    unsatisfied: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class StepSkipped(_Unsatisfiable):
    """A step that will not run; ``actor`` is set when someone skipped it by hand."""

    type: ClassVar[str] = "step_skipped"
    flow_id: FlowID
    step_id: StepID
    reason: str
    actor: str | None = None
    unsatisfied: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class FlowCompleted(EventData):
    type: ClassVar[str] = "flow_completed"
    flow_id: FlowID


@dataclass(frozen=True, slots=True)
class FlowFailed(EventData):
    type: ClassVar[str] = "flow_failed"
    flow_id: FlowID
    error: str


@dataclass(frozen=True, slots=True)
class _FlowOperated(EventData):
    """An operator's call on a whole flow: who made it and, if given, why."""

    flow_id: FlowID
    actor: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class FlowPaused(_FlowOperated):
    type: ClassVar[str] = "flow_paused"


@dataclass(frozen=True, slots=True)
class FlowResumed(_FlowOperated):
    type: ClassVar[str] = "flow_resumed"


@dataclass(frozen=True, slots=True)
class FlowCanceled(_FlowOperated):
    type: ClassVar[str] = "flow_canceled"


@dataclass(frozen=True, slots=True)
class FlowRetried(EventData):
    """The flow runs again: ``steps`` return to pending (with fresh tokens when they start)."""

    type: ClassVar[str] = "flow_retried"
    flow_id: FlowID
    steps: tuple[StepID, ...]
    actor: str | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {"flow_id": self.flow_id, "steps": list(self.steps)}
        return _without_unset({**out, "actor": self.actor, "reason": self.reason})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EventData:
        steps = tuple(StepID(s) for s in data["steps"])
        return cls(data["flow_id"], steps, data.get("actor"), data.get("reason"))


# -------------------------------------------------------------- compensation


@dataclass(frozen=True, slots=True)
class CompStarted(EventData):
    """A succeeded item's compensation call is made (again, after a retry or a takeover)."""

    type: ClassVar[str] = "comp_started"
    flow_id: FlowID
    step_id: StepID
    token: Token
    instance: str = ""


@dataclass(frozen=True, slots=True)
class CompSucceeded(EventData):
    type: ClassVar[str] = "comp_succeeded"
    flow_id: FlowID
    step_id: StepID
    token: Token


@dataclass(frozen=True, slots=True)
class CompRetryScheduled(EventData):
    """A compensation call that did not complete (transport error, 5xx) is tried again."""

    type: ClassVar[str] = "comp_retry_scheduled"
    flow_id: FlowID
    step_id: StepID
    token: Token
    retry_count: int
    next_retry_at: datetime
    error: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "flow_id": self.flow_id,
            "step_id": self.step_id,
            "token": self.token,
            "retry_count": self.retry_count,
            "next_retry_at": iso(self.next_retry_at),
            "error": self.error,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EventData:
        return cls(
            data["flow_id"],
            data["step_id"],
            data["token"],
            data["retry_count"],
            parse_time(data["next_retry_at"]),
            data["error"],
        )


@dataclass(frozen=True, slots=True)
class CompFailed(EventData):
    """A compensation that failed for good (4xx, or its retries used up)."""

    type: ClassVar[str] = "comp_failed"
    flow_id: FlowID
    step_id: StepID
    token: Token
    error: str


@dataclass(frozen=True, slots=True)
class FlowDeactivated(EventData):
    """An ended flow has no work running and no compensation left: nothing more happens."""

    type: ClassVar[str] = "flow_deactivated"
    flow_id: FlowID
    status: str


EVENT_TYPES: dict[str, type[EventData]] = {
    cls.type: cls
    for cls in (
        StepRegistered,
        StepUpdated,
        StepUnregistered,
        StepHealthChanged,
        FlowStarted,
        StepStarted,
        WorkStarted,
        WorkSucceeded,
        WorkFailed,
        WorkNotCompleted,
        WorkRetryScheduled,
        AttributeSet,
        StepCompleted,
        StepFailed,
        StepSkipped,
        FlowCompleted,
        FlowFailed,
        FlowPaused,
        FlowResumed,
        FlowCanceled,
        FlowRetried,
        CompStarted,
        CompSucceeded,
        CompRetryScheduled,
        CompFailed,
        FlowDeactivated,
    )
}


FLOW_ENDED_TYPES = frozenset({FlowCompleted.type, FlowFailed.type, FlowCanceled.type})
"""The events that end a flow (a retry may start a failed or canceled one again)."""


def decode_data(event_type: str, data: Mapping[str, Any]) -> EventData:
    return EVENT_TYPES[event_type].from_dict(data)


@dataclass(frozen=True, slots=True)
class Event:
    """A stored event: ``seq`` is 1-based and gapless per aggregate."""

    aggregate: str
    seq: int
    timestamp: datetime
    data: EventData
    position: str = ""

    @property
    def type(self) -> str:
        return self.data.type

    def to_dict(self) -> dict[str, Any]:
        """The envelope the API sends; a stored event carries its feed ``position``."""
        out = {
            "type": self.data.type,
            "aggregate": self.aggregate,
            "seq": self.seq,
            "timestamp": iso(self.timestamp),
            "data": self.data.to_dict(),
        }
        if self.position:
            out["position"] = self.position
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Event:
        return cls(
            aggregate=data["aggregate"],
            seq=data["seq"],
            timestamp=parse_time(data["timestamp"]),
            data=decode_data(data["type"], data["data"]),
            position=data.get("position", ""),
        )
