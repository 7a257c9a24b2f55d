"""The reading connection's queries: the feed's rows and the flow index."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping

from argyll import codec
from argyll.codec import decode_time
from argyll.events import Event
from argyll.flow_query import FlowPage, FlowQuery, page_of
from argyll.model import FlowStatus, FlowSummary
from argyll.store.sqlite.flow_sql import (
    _FLOW,
    _FLOW_COLUMNS,
    _HAS_LABEL,
    _NEWEST_FIRST,
    Row,
    _flow_summary,
    flow_query_sql,
)

_COLUMNS = "aggregate, seq, type, data_version, timestamp, data, position"
_READ_FEED = f"SELECT {_COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?"  # noqa: S608 — only this package's column lists are interpolated
_COUNTS = "SELECT status, count FROM flow_counts"


def _event(row: Row) -> Event:
    aggregate, seq, event_type, version, timestamp, data, position = row
    payload = codec.decode(event_type, version, data)
    return Event(aggregate, seq, decode_time(timestamp), payload, str(position))


class _Reads:
    """The queries that only read: the feed and the flow index."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def read_feed(self, after: int, limit: int) -> list[Event]:
        return [_event(row) for row in self._connection.execute(_READ_FEED, (after, limit))]

    def feed_rows(self, after: int, limit: int) -> list[Row]:
        """Up to ``limit`` entries after ``after``, their data not yet decoded."""
        return self._connection.execute(_READ_FEED, (after, limit)).fetchall()

    def flow_summary(self, flow_id: str) -> FlowSummary | None:
        row = self._connection.execute(_FLOW, (flow_id,)).fetchone()
        return None if row is None else _flow_summary(row)

    def list_flows(
        self, status: FlowStatus | None, limit: int | None, labels: Mapping[str, str] | None
    ) -> list[FlowSummary]:
        conditions, parameters = [], []
        if status is not None:
            conditions.append("status = ?")
            parameters.append(status.value)
        for key, value in (labels or {}).items():
            conditions.append(_HAS_LABEL)
            parameters += (f"$.{json.dumps(key)}", value)
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        query = f"SELECT {_FLOW_COLUMNS} FROM flows {where} {_NEWEST_FIRST}"  # noqa: S608 — fixed clauses only; values are bound
        rows = self._connection.execute(query, (*parameters, -1 if limit is None else limit))
        return [_flow_summary(row) for row in rows]

    def query_flows(self, query: FlowQuery) -> FlowPage:
        sql, parameters = flow_query_sql(query)
        rows = self._connection.execute(sql, parameters).fetchall()
        return page_of(query, map(_flow_summary, rows))

    def counts(self) -> dict[FlowStatus, int]:
        found = dict(self._connection.execute(_COUNTS).fetchall())
        return {status: found.get(status.value, 0) for status in FlowStatus}

    def close(self) -> None:
        self._connection.close()
