"""The flows table's rows and the SQL of flow queries: the narrowest index first, then filters."""

from __future__ import annotations

import json
from typing import Any

from argyll.codec import decode_time, encode_time
from argyll.flow_query import FlowQuery, utc
from argyll.json_encoding import to_json
from argyll.model import FlowID, FlowStatus, FlowSummary

_FLOW_COLUMNS = "id, status, created_at, completed_at, error, labels, parent, goals"
_FLOW = f"SELECT {_FLOW_COLUMNS} FROM flows WHERE id = ?"  # noqa: S608 — only this package's column lists are interpolated
_NEWEST_FIRST = "ORDER BY created_at DESC, id DESC LIMIT ?"
_HAS_LABEL = "json_extract(labels, ?) = ?"
_OTHER_LABEL = (
    "EXISTS (SELECT 1 FROM flow_labels l WHERE l.id = d.id AND l.name = ? AND l.value = ?)"
)
_OTHER_GOAL = "EXISTS (SELECT 1 FROM flow_goals g WHERE g.id = d.id AND g.goal = ?)"

_COUNT = (
    "INSERT INTO flow_counts (status, count) VALUES (?, ?) "
    "ON CONFLICT (status) DO UPDATE SET count = count + excluded.count"
)

Row = tuple[Any, ...]


def flow_query_sql(query: FlowQuery) -> tuple[str, list[Any]]:
    """The SELECT of one page of ``query`` (and the row after it), and its parameters.

    The rows come from the index that narrows them most cheaply, already in the
    query's order: the parent's children, the first label's or goal's rows, each
    wanted status's rows (merged), or every flow by creation time; the other filters
    are checked on them.
    """
    direction = "DESC" if query.newest_first else "ASC"
    order = f"ORDER BY d.created_at {direction}, d.id {direction} LIMIT ?"
    if query.labels or query.goals or query.parent is not None or len(query.statuses) <= 1:
        sql, parameters = _narrowed(query, [*query.statuses][:1])
        return f"{sql} {order}", [*parameters, query.limit + 1]
    arms, parameters = [], []
    for status in sorted(query.statuses):
        sql, more = _narrowed(query, [status])
        arms.append(f"SELECT * FROM ({sql} {order})")  # noqa: S608 — fixed clauses only; values are bound
        parameters += (*more, query.limit + 1)
    outer = order.replace("d.", "")
    return f"{' UNION ALL '.join(arms)} {outer}", [*parameters, query.limit + 1]


def _narrowed(query: FlowQuery, statuses: list[FlowStatus]) -> tuple[str, list[Any]]:
    """The rows of the narrowest index as ``d``, joined to their flows as ``f``, filtered."""
    labels, goals = list(query.labels.items()), list(query.goals)
    conditions: list[str] = []
    parameters: list[Any] = []
    alias = "f"
    if query.parent is not None:
        source, alias = "flows d INDEXED BY flows_by_parent", "d"
        conditions.append("d.parent = ?")
        parameters.append(query.parent)
    elif labels:
        source = "flow_labels d JOIN flows f ON f.id = d.id"
        conditions.append("d.name = ? AND d.value = ?")
        parameters += labels.pop(0)
    elif goals:
        source = "flow_goals d JOIN flows f ON f.id = d.id"
        conditions.append("d.goal = ?")
        parameters.append(goals.pop(0))
    else:
        source, alias = "flows d", "d"
    if query.statuses:
        wanted = statuses if source == "flows d" else sorted(query.statuses)
        conditions.append(f"{alias}.status IN ({', '.join('?' * len(wanted))})")
        parameters += (status.value for status in wanted)
    for name, value in labels:
        conditions.append(_OTHER_LABEL)
        parameters += (name, value)
    for goal in goals:
        conditions.append(_OTHER_GOAL)
        parameters.append(goal)
    if query.id_prefix:
        conditions.append("substr(d.id, 1, ?) = ?")
        parameters += (len(query.id_prefix), query.id_prefix)
    for bound, moment in ((">", query.created_after), ("<", query.created_before)):
        if moment is not None:
            conditions.append(f"d.created_at {bound} ?")
            parameters.append(encode_time(moment))
    if query.after is not None:
        conditions.append(f"(d.created_at, d.id) {'<' if query.newest_first else '>'} (?, ?)")
        parameters += (encode_time(query.after.created_at), query.after.flow_id)
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    return f"SELECT {_columns(alias)} FROM {source} {where}", parameters  # noqa: S608 — fixed clauses only; values are bound


def _columns(alias: str) -> str:
    return ", ".join(f"{alias}.{column}" for column in _FLOW_COLUMNS.split(", "))


def _flow_row(summary: FlowSummary) -> Row:
    completed_at = None if summary.completed_at is None else encode_time(summary.completed_at)
    return (
        summary.id,
        summary.status.value,
        encode_time(utc(summary.created_at)),
        completed_at,
        summary.error,
        to_json(dict(summary.labels)),
        summary.parent,
        to_json(list(summary.goals)),
    )


def _flow_summary(row: Row) -> FlowSummary:
    flow_id, status, created_at, completed_at, error, labels, parent, goals = row
    return FlowSummary(
        FlowID(flow_id),
        FlowStatus(status),
        decode_time(created_at),
        None if completed_at is None else decode_time(completed_at),
        error,
        json.loads(labels),
        None if parent is None else FlowID(parent),
        tuple(json.loads(goals)),
    )
