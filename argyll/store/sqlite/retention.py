"""Retention's SQL: the ended flows due for removal, and a removal of every row a flow has."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime

from argyll.events import flow_aggregate
from argyll.model import FlowStatus, FlowSummary
from argyll.retention import expired
from argyll.store.sqlite.flow_sql import _COUNT, _FLOW, _FLOW_COLUMNS, _flow_summary

_DEACTIVATED = (
    "(SELECT type FROM events WHERE aggregate = 'flow:' || flows.id "
    "ORDER BY seq DESC LIMIT 1) = 'flow_deactivated'"
)
"""A flow whose last event is its deactivation: no compensation of it still runs."""
_IS_DEACTIVATED = f"SELECT 1 FROM flows WHERE id = ? AND {_DEACTIVATED}"  # noqa: S608 — a fixed condition only
_ENDED = (
    f"SELECT {_FLOW_COLUMNS} FROM flows "  # noqa: S608 — only this package's column lists are interpolated
    f"WHERE status = ? AND completed_at < ? AND {_DEACTIVATED} ORDER BY completed_at LIMIT ?"
)
_REMOVE_EVENTS = "DELETE FROM events WHERE aggregate = ?"
_REMOVE_FLOW = "DELETE FROM flows WHERE id = ?"
_REMOVE_LABELS = "DELETE FROM flow_labels WHERE id = ?"
_REMOVE_GOALS = "DELETE FROM flow_goals WHERE id = ?"
_REMOVE_SNAPSHOT = "DELETE FROM snapshots WHERE aggregate = ?"
_REMOVE_MEMOS = "DELETE FROM memos WHERE flow = ?"


def ended_flows(connection: sqlite3.Connection, before: str, limit: int) -> list[FlowSummary]:
    """The earliest-ended first, from each ended status's part of ``flows_by_end``."""
    found = [
        _flow_summary(row)
        for status in FlowStatus
        if status.ended
        for row in connection.execute(_ENDED, (status.value, before, limit))
    ]
    found.sort(key=lambda flow: (flow.completed_at, flow.id))
    return found[:limit]


def remove_flows(
    connection: sqlite3.Connection, flow_ids: Sequence[str], before: datetime
) -> list[str]:
    """Remove those of ``flow_ids`` still due; the caller holds the transaction."""
    removed = []
    for flow_id in dict.fromkeys(flow_ids):
        row = connection.execute(_FLOW, (flow_id,)).fetchone()
        summary = None if row is None else _flow_summary(row)
        if summary is not None and expired(summary, before) and _deactivated(connection, flow_id):
            _remove_flow(connection, summary)
            removed.append(flow_id)
    return removed


def _deactivated(connection: sqlite3.Connection, flow_id: str) -> bool:
    return connection.execute(_IS_DEACTIVATED, (flow_id,)).fetchone() is not None


def _remove_flow(connection: sqlite3.Connection, summary: FlowSummary) -> None:
    """Delete the flow's events, rows, query-index rows and memos; uncount it."""
    flow_id, aggregate = summary.id, flow_aggregate(summary.id)
    execute = connection.execute
    execute(_REMOVE_EVENTS, (aggregate,))
    execute(_REMOVE_FLOW, (flow_id,))
    execute(_REMOVE_LABELS, (flow_id,))
    execute(_REMOVE_GOALS, (flow_id,))
    execute(_COUNT, (summary.status.value, -1))
    execute(_REMOVE_SNAPSHOT, (aggregate,))
    execute(_REMOVE_MEMOS, (flow_id,))
