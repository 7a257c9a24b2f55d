"""The values of a running flow: its state, its steps' executions and work items, its
attributes, and the row a listing shows of it (``FlowSummary``).

Each is frozen and writes its own JSON (``to_dict``); the appliers make new ones
(``argyll.model.evolve``) as events are folded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from argyll.model.types import (
    FlowID,
    FlowStatus,
    Plan,
    StepID,
    StepStatus,
    Token,
    WorkStatus,
)


def iso(moment: datetime | None) -> str | None:
    """ISO-8601 UTC with milliseconds, as every timestamp in the API."""
    if moment is None:
        return None
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class WorkItem:
    inputs: Mapping[str, Any]
    status: WorkStatus = WorkStatus.PENDING
    outputs: Mapping[str, Any] | None = None
    error: str | None = None
    retry_count: int = 0
    next_retry_at: datetime | None = None
    owner: str = ""
    """The engine instance running the current attempt (its lease)."""
    started_at: datetime | None = None
    """When the current attempt started."""
    memo: Mapping[str, Any] | None = None
    """``{flow_id, seq}``: the item's outputs were a memo hit of that ``work_succeeded``."""
    completed_seq: int | None = None
    """The flow event that recorded the success of an item that may be compensated (a step
    with ``http.compensate``): the completion order compensation undoes in reverse."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "status": self.status.value,
            "inputs": dict(self.inputs),
            "retry_count": self.retry_count,
        }
        if self.completed_seq is not None:
            out["completed_seq"] = self.completed_seq
        if self.owner:
            out["owner"] = self.owner
        if self.outputs is not None:
            out["outputs"] = dict(self.outputs)
        if self.error is not None:
            out["error"] = self.error
        if self.next_retry_at is not None:
            out["next_retry_at"] = iso(self.next_retry_at)
        if self.started_at is not None:
            out["started_at"] = iso(self.started_at)
        if self.memo is not None:
            out["memo"] = dict(self.memo)
        return out


@dataclass(frozen=True, slots=True)
class Execution:
    status: StepStatus = StepStatus.PENDING
    started_at: datetime | None = None
    completed_at: datetime | None = None
    inputs: Mapping[str, Any] = field(default_factory=dict)
    outputs: Mapping[str, Any] | None = None
    error: str | None = None
    reason: str | None = None
    work_items: Mapping[Token, WorkItem] = field(default_factory=dict)
    unsatisfied: tuple[str, ...] = ()
    """The inputs that made the step skip or fail without running."""

    @property
    def duration_ms(self) -> int | None:
        if self.started_at is None or self.completed_at is None:
            return None
        return round((self.completed_at - self.started_at).total_seconds() * 1000)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status.value, "inputs": dict(self.inputs)}
        if self.started_at is not None:
            out["started_at"] = iso(self.started_at)
        if self.completed_at is not None:
            out["completed_at"] = iso(self.completed_at)
        if self.outputs is not None:
            out["outputs"] = dict(self.outputs)
        if self.error is not None:
            out["error"] = self.error
        if self.reason is not None:
            out["reason"] = self.reason
        if self.unsatisfied:
            out["unsatisfied"] = list(self.unsatisfied)
        if self.duration_ms is not None:
            out["duration"] = self.duration_ms
        out["work_items"] = {t: w.to_dict() for t, w in self.work_items.items()}
        return out


@dataclass(frozen=True, slots=True)
class AttributeValue:
    """A flow attribute: its first value and the step that made it (None: init).

    ``values`` lists every candidate in completion order once a second one exists
    (inputs that collect ``last``, ``some`` or ``all`` read them).
    """

    value: Any
    step: StepID | None = None
    values: tuple[AttributeValue, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"value": self.value, "step": self.step}
        if self.values:
            out["values"] = [{"value": v.value, "step": v.step} for v in self.values]
        return out


@dataclass(frozen=True, slots=True)
class ParentRef:
    """Where a child flow came from: the parent flow, its sub-flow step, the item's token."""

    flow_id: FlowID
    step_id: StepID
    token: Token

    def to_dict(self) -> dict[str, Any]:
        return {"flow_id": self.flow_id, "step_id": self.step_id, "token": self.token}


@dataclass(frozen=True, slots=True)
class FlowState:
    id: FlowID
    plan: Plan
    init: Mapping[str, Any]
    created_at: datetime
    status: FlowStatus = FlowStatus.ACTIVE
    last_updated: datetime | None = None
    completed_at: datetime | None = None
    error: str | None = None
    attributes: Mapping[str, AttributeValue] = field(default_factory=dict)
    executions: Mapping[StepID, Execution] = field(default_factory=dict)
    version: int = 0
    deadline: datetime | None = None
    """When an unfinished flow fails for taking too long (its start's ``timeout``)."""
    labels: Mapping[str, str] = field(default_factory=dict)
    parent: ParentRef | None = None
    deactivated_at: datetime | None = None
    """When an ended flow had no work or compensation left that could have side effects."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "status": self.status.value,
            "created_at": iso(self.created_at),
            "last_updated": iso(self.last_updated or self.created_at),
        }
        if self.completed_at is not None:
            out["completed_at"] = iso(self.completed_at)
        if self.error is not None:
            out["error"] = self.error
        if self.deadline is not None:
            out["deadline"] = iso(self.deadline)
        if self.labels:
            out["labels"] = dict(self.labels)
        if self.parent is not None:
            out["parent"] = self.parent.to_dict()
        if self.deactivated_at is not None:
            out["deactivated_at"] = iso(self.deactivated_at)
        compensation = compensation_summary(self)
        if compensation is not None:
            out["compensation"] = compensation
        out["plan"] = self.plan.to_dict()
        out["init"] = dict(self.init)
        out["attributes"] = {n: a.to_dict() for n, a in self.attributes.items()}
        out["executions"] = {s: e.to_dict() for s, e in self.executions.items()}
        return out


UNDOING = frozenset({FlowStatus.FAILED, FlowStatus.CANCELED})
"""The ends of a flow that compensate its work (a completed flow keeps what it did)."""


def compensation_summary(flow: FlowState) -> dict[str, Any] | None:
    """How an ended flow's compensation stands (None: it has not begun), for its state.

    ``status`` is ``compensating`` while items are left (``pending``), then
    ``compensated`` when each was undone, or ``failed`` when some compensation failed
    for good (each in ``failures``, with its error).
    """
    counts = dict.fromkeys(
        (WorkStatus.COMPENSATING, WorkStatus.COMPENSATED, WorkStatus.COMPENSATION_FAILED), 0
    )
    waiting, failures = 0, []
    for step_id, execution in flow.executions.items():
        if not flow.plan.steps[step_id].compensable:
            continue
        for token, item in execution.work_items.items():
            if item.status in counts:
                counts[item.status] += 1
            waiting += item.status is WorkStatus.SUCCEEDED and flow.status in UNDOING
            if item.status is WorkStatus.COMPENSATION_FAILED:
                failures.append({"step_id": step_id, "token": token, "error": item.error})
    if not any(counts.values()):
        return None
    pending = waiting + counts[WorkStatus.COMPENSATING]
    status = "compensating" if pending else "failed" if failures else "compensated"
    out: dict[str, Any] = {
        "status": status,
        "compensated": counts[WorkStatus.COMPENSATED],
        "failed": counts[WorkStatus.COMPENSATION_FAILED],
        "pending": pending,
    }
    if failures:
        out["failures"] = failures
    return out


@dataclass(frozen=True, slots=True)
class FlowSummary:
    """One row of the flow index: what listing flows needs without folding them."""

    id: FlowID
    status: FlowStatus
    created_at: datetime
    completed_at: datetime | None = None
    error: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    parent: FlowID | None = None
    """A child flow's parent flow."""
    goals: tuple[StepID, ...] = ()
    """The flow's goal steps, as its plan names them."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "status": self.status.value,
            "created_at": iso(self.created_at),
        }
        if self.completed_at is not None:
            out["completed_at"] = iso(self.completed_at)
        if self.error is not None:
            out["error"] = self.error
        if self.labels:
            out["labels"] = dict(self.labels)
        if self.parent is not None:
            out["parent"] = self.parent
        if self.goals:
            out["goals"] = list(self.goals)
        return out

    def has_labels(self, wanted: Mapping[str, str]) -> bool:
        """Whether the flow carries every one of ``wanted``'s labels with its value."""
        return all(self.labels.get(key) == value for key, value in wanted.items())


