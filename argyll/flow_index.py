"""The flow index rule: the row a flow's status events make, so flows list unfolded.

Every store keeps this index beside its events and the UI keeps one of its own;
all of them call ``summarize`` for each event whose type is in ``INDEXED_TYPES``
(the Redis store, which updates its rows inside a Lua script, takes the change
from ``index_change``), so what a row says is decided here once.
"""

from __future__ import annotations

from enum import StrEnum

from argyll.events import (
    Event,
    FlowCanceled,
    FlowCompleted,
    FlowFailed,
    FlowPaused,
    FlowResumed,
    FlowRetried,
    FlowStarted,
)
from argyll.model import FlowState, FlowStatus, FlowSummary
from argyll.model.evolve import evolve

IndexedData = (
    FlowStarted | FlowPaused | FlowResumed | FlowRetried | FlowCompleted | FlowFailed | FlowCanceled
)
"""The events that change a flow's index row."""


class RowChange(StrEnum):
    """What an indexed event does to the row: make it, move its status, or close it."""

    OPEN = "open"
    MOVE = "move"
    CLOSE = "close"


_CHANGES: dict[str, tuple[RowChange, FlowStatus]] = {
    FlowStarted.type: (RowChange.OPEN, FlowStatus.ACTIVE),
    FlowPaused.type: (RowChange.MOVE, FlowStatus.PAUSED),
    FlowResumed.type: (RowChange.MOVE, FlowStatus.ACTIVE),
    FlowRetried.type: (RowChange.MOVE, FlowStatus.ACTIVE),
    FlowCompleted.type: (RowChange.CLOSE, FlowStatus.COMPLETED),
    FlowFailed.type: (RowChange.CLOSE, FlowStatus.FAILED),
    FlowCanceled.type: (RowChange.CLOSE, FlowStatus.CANCELED),
}

INDEXED_TYPES = frozenset(_CHANGES)


def index_change(data: IndexedData) -> tuple[RowChange, FlowStatus]:
    """What ``data`` does to its flow's row, and the status the row has after it."""
    return _CHANGES[data.type]


def summarize(summary: FlowSummary | None, event: Event) -> FlowSummary | None:
    """The flow's index row after ``event``: a start makes it, a move changes its status
    (a retry also reopens it), an end closes it with the time and the error, if any.

    Any other event, or one for a row that was never made, changes nothing.
    """
    data = event.data
    if data.type not in _CHANGES:
        return summary
    change, status = _CHANGES[data.type]
    if isinstance(data, FlowStarted):
        parent = data.parent.flow_id if data.parent is not None else None
        return FlowSummary(
            data.flow_id,
            status,
            event.timestamp,
            labels=data.labels,
            parent=parent,
            goals=data.plan.goals,
        )
    if summary is None:
        return None
    if change is RowChange.MOVE:
        return evolve(summary, status=status, completed_at=None, error=None)
    error = data.error if isinstance(data, FlowFailed) else None
    return evolve(summary, status=status, completed_at=event.timestamp, error=error)


def summary_of(state: FlowState) -> FlowSummary:
    """The index row of a folded flow: the same row its events make through ``summarize``."""
    parent = state.parent.flow_id if state.parent is not None else None
    return FlowSummary(
        state.id,
        state.status,
        state.created_at,
        state.completed_at,
        state.error,
        state.labels,
        parent,
        state.plan.goals,
    )
