"""The flow index rule: the row a flow's start and end events make, so flows list unfolded.

Every store keeps this index beside its events and the UI keeps one of its own;
all of them call ``summarize`` for each event whose type is in ``INDEXED_TYPES``
(the Redis store, which updates its rows inside a Lua script, takes the status
from ``indexed_status``), so what a row says is decided here once.
"""

from __future__ import annotations

from argyll.events import Event, FlowCompleted, FlowFailed, FlowStarted
from argyll.model import FlowState, FlowStatus, FlowSummary

IndexedData = FlowStarted | FlowCompleted | FlowFailed
"""The events that change a flow's index row."""

INDEXED_TYPES = frozenset({FlowStarted.type, FlowCompleted.type, FlowFailed.type})

_STATUS_AFTER = {
    FlowStarted.type: FlowStatus.ACTIVE,
    FlowCompleted.type: FlowStatus.COMPLETED,
    FlowFailed.type: FlowStatus.FAILED,
}


def indexed_status(data: IndexedData) -> FlowStatus:
    """The status a flow's row has after ``data``."""
    return _STATUS_AFTER[data.type]


def summarize(summary: FlowSummary | None, event: Event) -> FlowSummary | None:
    """The flow's index row after ``event``: a start makes it, an end closes it.

    An end with no row before it (a flow that never started) makes none.
    """
    data = event.data
    if isinstance(data, FlowStarted):
        return FlowSummary(data.flow_id, indexed_status(data), event.timestamp)
    if summary is None or not isinstance(data, FlowCompleted | FlowFailed):
        return summary
    error = data.error if isinstance(data, FlowFailed) else None
    return FlowSummary(summary.id, indexed_status(data), summary.created_at, event.timestamp, error)


def summary_of(state: FlowState) -> FlowSummary:
    """The index row of a folded flow: the same row its events make through ``summarize``."""
    return FlowSummary(state.id, state.status, state.created_at, state.completed_at, state.error)
