"""A durable event store in one SQLite file, on the standard library's ``sqlite3``.

URL forms:

- ``sqlite:///relative/path.db``: relative to the working directory;
- ``sqlite:////absolute/path.db``: an absolute path (four slashes);
- ``sqlite:///~/path.db``: under the home directory;
- ``sqlite:///:memory:``: a private in-memory database, gone when the store closes.

Missing parent directories are created. The file is in WAL mode with
``synchronous=NORMAL``: a commit survives the process crashing, and other
processes may read and append to the same file (their events reach this
process's subscribers within ``POLL_INTERVAL``).

Threading: one worker thread owns the connection and runs every query, so the
event loop never waits on the disk. Group commit: appends that arrive while
the worker is busy are written together in one transaction when it is free;
each is still checked against its own expected version and fails alone.

Events are encoded by ``argyll.codec``: a row keeps the event's type, its
schema version (``data_version``) and its fields as JSON text. Schema version 2
of the database added ``data_version`` as a column with the default 1, so a
file written before events carried versions opens as it is (SQLite adds such a
column without rewriting the table) and its rows decode as version 1; a column
rather than a key inside the JSON keeps the payload exactly the event's fields.
Version 3 added the flows' ``labels`` column; version 4 the ``slots`` table: each
step's concurrency slots, and the queue for them, each grant decided in one
transaction; version 5 the ``memos`` table: memoized results, each with ``used``,
a number raised past every other entry's on each put and hit, so the least
recently used is the lowest (``?memo_limit=`` bounds the table, see
``argyll.store.options``); version 6 the flows' ``parent`` column (a child flow's
parent flow). Version 7 serves flow queries from indexes: the flows' ``goals``
column, a row per label and per goal of each flow (``flow_labels``,
``flow_goals``) with the flow's creation time, indexes that give each filter's
rows in creation order, and ``flow_counts``, kept in the transaction that changes
a flow's status; the migration fills them from the rows and events already there.
Version 8 the indexes retention reads by: flows by status and end time, memos
by the flow that produced them. Removing a flow deletes its rows, its label and
goal rows, and takes it off ``flow_counts``; ``position`` is AUTOINCREMENT, so no
later event takes a removed one's.

Flow listings, queries and counts run on a second connection in a thread of
their own (a file in WAL mode has readers that never wait for the writer), so a
long listing does not hold up appends.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

from argyll import codec
from argyll.codec import decode_time, encode, encode_time
from argyll.errors import StoreError, ValidationError, VersionConflict
from argyll.events import Event, EventData, flow_aggregate
from argyll.flow_index import INDEXED_TYPES, IndexedData, summarize
from argyll.flow_query import FlowPage, FlowQuery, page_of, utc
from argyll.memo import Memo
from argyll.model import FlowID, FlowStatus, FlowSummary, StepID
from argyll.retention import expired
from argyll.store.base import ClosesOnExit, SlotAnswer, SlotHolder
from argyll.store.feed import ChangeSignal, Wanted, feed_index
from argyll.store.options import split_memo_limit

T = TypeVar("T")

URL_PREFIX = "sqlite:///"
IN_MEMORY = ":memory:"
POLL_INTERVAL = 0.25
"""Seconds between looks for events appended by other processes."""
FEED_BATCH = 500
RECENT_EVENTS = 20_000
"""Events this process appended that subscribers get without reading them back."""
BUSY_TIMEOUT = 10.0
"""Seconds to wait for another process's write lock before giving up."""

_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (  # to version 1
        """CREATE TABLE events (
            position INTEGER PRIMARY KEY AUTOINCREMENT,
            aggregate TEXT NOT NULL,
            seq INTEGER NOT NULL,
            type TEXT NOT NULL,
            timestamp TEXT NOT NULL,
            data TEXT NOT NULL,
            UNIQUE (aggregate, seq)
        )""",
        """CREATE TABLE flows (
            id TEXT PRIMARY KEY,
            status TEXT NOT NULL,
            created_at TEXT NOT NULL,
            completed_at TEXT,
            error TEXT
        )""",
        "CREATE INDEX flows_by_status ON flows (status, created_at)",
        "CREATE TABLE instances (id TEXT PRIMARY KEY, expires REAL NOT NULL)",
        "CREATE TABLE snapshots (aggregate TEXT PRIMARY KEY, version INTEGER NOT NULL, state TEXT)",
    ),
    (  # to version 2: events carry the schema version of their data
        "ALTER TABLE events ADD COLUMN data_version INTEGER NOT NULL DEFAULT 1",
    ),
    (  # to version 3: flows carry the labels they were started with (a JSON object)
        "ALTER TABLE flows ADD COLUMN labels TEXT NOT NULL DEFAULT '{}'",
    ),
    (  # to version 4: concurrency slots, held (held = 1) or waited for in arrival order
        """CREATE TABLE slots (
            arrival INTEGER PRIMARY KEY AUTOINCREMENT,
            step TEXT NOT NULL,
            flow TEXT NOT NULL,
            token TEXT NOT NULL,
            instance TEXT NOT NULL,
            held INTEGER NOT NULL DEFAULT 0,
            UNIQUE (step, flow, token)
        )""",
        "CREATE INDEX slots_by_step ON slots (step, held, arrival)",
    ),
    (  # to version 5: memoized results, the least recently used lowest in `used`
        """CREATE TABLE memos (
            key TEXT PRIMARY KEY,
            step TEXT NOT NULL,
            outputs TEXT NOT NULL,
            flow TEXT NOT NULL,
            seq INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            used INTEGER NOT NULL
        )""",
        "CREATE INDEX memos_by_step ON memos (step)",
        "CREATE INDEX memos_by_use ON memos (used)",
    ),
    (  # to version 6: a child flow's row names its parent flow
        "ALTER TABLE flows ADD COLUMN parent TEXT",
    ),
    (  # to version 7: flow queries served from indexes, counts by status
        "ALTER TABLE flows ADD COLUMN goals TEXT NOT NULL DEFAULT '[]'",
        """UPDATE flows SET goals = coalesce((
            SELECT json_extract(data, '$.plan.goals') FROM events
            WHERE aggregate = 'flow:' || flows.id AND type = 'flow_started'
        ), '[]')""",
        "DROP INDEX flows_by_status",
        "CREATE INDEX flows_by_status ON flows (status, created_at, id)",
        "CREATE INDEX flows_by_created ON flows (created_at, id)",
        "CREATE INDEX flows_by_parent ON flows (parent, created_at, id)",
        """CREATE TABLE flow_labels (
            id TEXT NOT NULL,
            name TEXT NOT NULL,
            value TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (id, name)
        ) WITHOUT ROWID""",
        "CREATE INDEX flow_labels_by_value ON flow_labels (name, value, created_at, id)",
        """CREATE TABLE flow_goals (
            id TEXT NOT NULL,
            goal TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (id, goal)
        ) WITHOUT ROWID""",
        "CREATE INDEX flow_goals_by_goal ON flow_goals (goal, created_at, id)",
        """INSERT INTO flow_labels (id, name, value, created_at)
            SELECT flows.id, label.key, label.value, flows.created_at
            FROM flows, json_each(flows.labels) AS label""",
        """INSERT OR IGNORE INTO flow_goals (id, goal, created_at)
            SELECT flows.id, goal.value, flows.created_at
            FROM flows, json_each(flows.goals) AS goal""",
        "CREATE TABLE flow_counts (status TEXT PRIMARY KEY, count INTEGER NOT NULL)",
        """INSERT INTO flow_counts (status, count)
            SELECT status, count(*) FROM flows GROUP BY status""",
    ),
    (  # to version 8: what retention looks up, ended flows by end time and memos by flow
        "CREATE INDEX flows_by_end ON flows (status, completed_at)",
        "CREATE INDEX memos_by_flow ON memos (flow)",
    ),
)
"""The statements that take the database from version n to n + 1, at index n."""
SCHEMA_VERSION = len(_MIGRATIONS)
_COLUMNS = "aggregate, seq, type, data_version, timestamp, data, position"
_VERSION = "SELECT coalesce(max(seq), 0) FROM events WHERE aggregate = ?"
_INSERT = (
    "INSERT INTO events (aggregate, seq, timestamp, type, data_version, data) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
_LAST_POSITION = "SELECT last_insert_rowid()"
_READ = f"SELECT {_COLUMNS} FROM events WHERE aggregate = ? AND seq > ? ORDER BY seq"  # noqa: S608 — only this module's column lists are interpolated
_READ_FEED = f"SELECT {_COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?"  # noqa: S608 — only this module's column lists are interpolated
_HEAD = "SELECT coalesce(max(position), 0) FROM events"
_FLOW_COLUMNS = "id, status, created_at, completed_at, error, labels, parent, goals"
_FLOW = f"SELECT {_FLOW_COLUMNS} FROM flows WHERE id = ?"  # noqa: S608 — only this module's column lists are interpolated
_SAVE_FLOW = f"INSERT OR REPLACE INTO flows ({_FLOW_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"  # noqa: S608 — only this module's column lists are interpolated
_SAVE_LABEL = "INSERT OR IGNORE INTO flow_labels (id, name, value, created_at) VALUES (?, ?, ?, ?)"
_SAVE_GOAL = "INSERT OR IGNORE INTO flow_goals (id, goal, created_at) VALUES (?, ?, ?)"
_COUNT = (
    "INSERT INTO flow_counts (status, count) VALUES (?, ?) "
    "ON CONFLICT (status) DO UPDATE SET count = count + excluded.count"
)
_COUNTS = "SELECT status, count FROM flow_counts"
_SAVE_SNAPSHOT = "INSERT OR REPLACE INTO snapshots (aggregate, version, state) VALUES (?, ?, ?)"
_SNAPSHOT = "SELECT version, state FROM snapshots WHERE aggregate = ?"
_HEARTBEAT = "INSERT OR REPLACE INTO instances (id, expires) VALUES (?, ?)"
_LIVE = "SELECT id FROM instances WHERE expires > ?"
_RETIRE = "DELETE FROM instances WHERE id = ?"
_SLOT = "SELECT instance, held FROM slots WHERE step = ? AND flow = ? AND token = ?"
_JOIN_QUEUE = "INSERT INTO slots (step, flow, token, instance) VALUES (?, ?, ?, ?)"
_HELD_COUNT = "SELECT count(*) FROM slots WHERE step = ? AND held = 1"
_FIRST_IN_LINE = (
    "SELECT flow, token FROM slots WHERE step = ? AND held = 0 ORDER BY arrival LIMIT ?"
)
_FIRST_WAITERS = (
    "SELECT instance, flow, token FROM slots WHERE step = ? AND held = 0 ORDER BY arrival LIMIT ?"
)
_GRANT = "UPDATE slots SET held = 1 WHERE step = ? AND flow = ? AND token = ?"
_RELEASE = "DELETE FROM slots WHERE step = ? AND flow = ? AND token = ?"
_SLOTS = "SELECT instance, flow, token FROM slots WHERE step = ? AND held = ? ORDER BY "
_REAP = "DELETE FROM slots WHERE instance NOT IN (SELECT id FROM instances WHERE expires > ?)"
_NEXT_USE = "(SELECT coalesce(max(used), 0) + 1 FROM memos)"
_MEMO_GET = (
    f"UPDATE memos SET used = {_NEXT_USE} WHERE key = ? "  # noqa: S608 — a fixed subquery only
    "RETURNING step, outputs, flow, seq, created_at"
)
_MEMO_PUT = (
    "INSERT INTO memos (key, step, outputs, flow, seq, created_at, used) "  # noqa: S608 — a fixed subquery only
    f"VALUES (?, ?, ?, ?, ?, ?, {_NEXT_USE}) "
    "ON CONFLICT (key) DO UPDATE SET step = excluded.step, outputs = excluded.outputs, "
    "flow = excluded.flow, seq = excluded.seq, created_at = excluded.created_at, "
    "used = excluded.used"
)
_MEMO_COUNT = "SELECT count(*) FROM memos"
_MEMO_EVICT = "DELETE FROM memos WHERE key IN (SELECT key FROM memos ORDER BY used LIMIT ?)"
_MEMO_FORGET = "DELETE FROM memos WHERE step = ?"
_DEACTIVATED = (
    "(SELECT type FROM events WHERE aggregate = 'flow:' || flows.id "
    "ORDER BY seq DESC LIMIT 1) = 'flow_deactivated'"
)
"""A flow whose last event is its deactivation: no compensation of it still runs."""
_IS_DEACTIVATED = f"SELECT 1 FROM flows WHERE id = ? AND {_DEACTIVATED}"  # noqa: S608 — a fixed condition only
_ENDED = (
    f"SELECT {_FLOW_COLUMNS} FROM flows "  # noqa: S608 — only this module's column lists are interpolated
    f"WHERE status = ? AND completed_at < ? AND {_DEACTIVATED} ORDER BY completed_at LIMIT ?"
)
_REMOVE_EVENTS = "DELETE FROM events WHERE aggregate = ?"
_REMOVE_FLOW = "DELETE FROM flows WHERE id = ?"
_REMOVE_LABELS = "DELETE FROM flow_labels WHERE id = ?"
_REMOVE_GOALS = "DELETE FROM flow_goals WHERE id = ?"
_REMOVE_SNAPSHOT = "DELETE FROM snapshots WHERE aggregate = ?"
_REMOVE_MEMOS = "DELETE FROM memos WHERE flow = ?"
_NEWEST_FIRST = "ORDER BY created_at DESC, id DESC LIMIT ?"
_HAS_LABEL = "json_extract(labels, ?) = ?"
_OTHER_LABEL = (
    "EXISTS (SELECT 1 FROM flow_labels l WHERE l.id = d.id AND l.name = ? AND l.value = ?)"
)
_OTHER_GOAL = "EXISTS (SELECT 1 FROM flow_goals g WHERE g.id = d.id AND g.goal = ?)"

Row = tuple[Any, ...]


def sqlite_path(url: str) -> str:
    """The file a ``sqlite:///`` URL names, or ":memory:"."""
    path = url.removeprefix(URL_PREFIX)
    if path == url or not path:
        raise ValidationError(
            [
                (
                    "store",
                    f"{url!r} is not a SQLite URL: use sqlite:///relative/path.db, "
                    "sqlite:////absolute/path.db or sqlite:///:memory:",
                )
            ]
        )
    return path if path == IN_MEMORY else str(Path(path).expanduser())


@dataclass(slots=True)
class _Append:
    """One caller's append waiting for the worker; ``rows`` are encoded on the event loop."""

    aggregate: str
    expected: int
    events: Sequence[EventData]
    timestamp: datetime
    rows: list[tuple[str, int, str, str, int, str]]
    future: asyncio.Future[list[Event]]


Outcome = list[Event] | BaseException


class _Database:
    """The connection and every query; used only from the store's worker thread."""

    def __init__(self, path: str) -> None:
        if path != IN_MEMORY:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None)
        try:
            self._connection.execute("PRAGMA journal_mode=WAL")
            self._connection.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        except BaseException:
            self._connection.close()
            raise
        self.path = path
        self.reads = _Reads(self._connection)

    def reader(self) -> _Reads:
        """Reads on a connection of their own, or on this one for a private in-memory file."""
        if self.path == IN_MEMORY:
            return self.reads
        connection = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
        )
        connection.execute("PRAGMA query_only = ON")
        return _Reads(connection)

    def _migrate(self) -> None:
        with self._transaction():
            found = self._connection.execute("PRAGMA user_version").fetchone()[0]
            if found > SCHEMA_VERSION:
                raise StoreError(
                    f"the database has schema version {found}; this argyll knows up to "
                    f"{SCHEMA_VERSION}"
                )
            if found < SCHEMA_VERSION:
                for migration in _MIGRATIONS[found:]:
                    for statement in migration:
                        self._connection.execute(statement)
                self._connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self._connection.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._connection.execute("COMMIT")
        except BaseException:
            if self._connection.in_transaction:
                self._connection.execute("ROLLBACK")
            raise

    def write_group(self, group: list[_Append]) -> list[Outcome]:
        """Commit the group in one transaction; if that fails, give each its own."""
        if len(group) > 1:
            try:
                with self._transaction():
                    return [self._write(append) for append in group]
            except sqlite3.OperationalError:
                raise  # the database is at fault (locked, full, ...), so every append fails
            except Exception:  # noqa: S110 — not swallowed: each append is retried alone below
                pass  # one append is at fault: writing each alone finds which
        return [self._write_alone(append) for append in group]

    def _write_alone(self, append: _Append) -> Outcome:
        try:
            with self._transaction():
                return self._write(append)
        except sqlite3.IntegrityError:
            actual = self.version(append.aggregate)
            return VersionConflict(append.aggregate, append.expected, actual)
        except Exception as error:
            return error

    def _write(self, append: _Append) -> Outcome:
        """Check the version and insert; a conflict is returned so the rest of a group commits."""
        actual = self.version(append.aggregate)
        if actual != append.expected:
            return VersionConflict(append.aggregate, append.expected, actual)
        if not append.rows:
            return []
        self._connection.executemany(_INSERT, append.rows)
        last = self._connection.execute(_LAST_POSITION).fetchone()[0]
        first = last - len(append.rows)
        aggregate, expected, timestamp = append.aggregate, append.expected, append.timestamp
        events = [
            Event(aggregate, expected + offset, timestamp, data, str(first + offset))
            for offset, data in enumerate(append.events, 1)
        ]
        for event in events:
            if event.data.type in INDEXED_TYPES:
                self._index(event)
        return events

    def _index(self, event: Event) -> None:
        """The flow's row after ``event``; a new row's labels and goals; the counts it moves."""
        flow_id = cast(IndexedData, event.data).flow_id
        old = self.reads.flow_summary(flow_id)
        summary = summarize(old, event)
        if summary is None:
            return
        execute = self._connection.execute
        execute(_SAVE_FLOW, _flow_row(summary))
        created = encode_time(utc(summary.created_at))
        if old is None:
            for name, value in summary.labels.items():
                execute(_SAVE_LABEL, (flow_id, name, value, created))
            for goal in summary.goals:
                execute(_SAVE_GOAL, (flow_id, goal, created))
        if old is None or old.status is not summary.status:
            execute(_COUNT, (summary.status.value, 1))
            if old is not None:
                execute(_COUNT, (old.status.value, -1))

    def version(self, aggregate: str) -> int:
        version: int = self._connection.execute(_VERSION, (aggregate,)).fetchone()[0]
        return version

    def read(self, aggregate: str, after: int) -> list[Event]:
        return [_event(row) for row in self._connection.execute(_READ, (aggregate, after))]

    def read_many(self, after: Mapping[str, int]) -> dict[str, list[Event]]:
        found = {aggregate: self.read(aggregate, seq) for aggregate, seq in after.items()}
        return {aggregate: events for aggregate, events in found.items() if events}

    def read_feed(self, after: int, limit: int) -> list[Event]:
        return [_event(row) for row in self._connection.execute(_READ_FEED, (after, limit))]

    def head(self) -> int:
        head: int = self._connection.execute(_HEAD).fetchone()[0]
        return head

    def save_snapshot(self, aggregate: str, version: int, state: str) -> None:
        self._connection.execute(_SAVE_SNAPSHOT, (aggregate, version, state))

    def load_snapshot(self, aggregate: str) -> tuple[int, dict[str, Any]] | None:
        row = self._connection.execute(_SNAPSHOT, (aggregate,)).fetchone()
        return None if row is None else (row[0], json.loads(row[1]))

    def load_snapshots(self, aggregates: Sequence[str]) -> dict[str, tuple[int, dict[str, Any]]]:
        found = {aggregate: self.load_snapshot(aggregate) for aggregate in aggregates}
        return {aggregate: saved for aggregate, saved in found.items() if saved is not None}

    def heartbeat(self, instance: str, expires: float) -> None:
        self._connection.execute(_HEARTBEAT, (instance, expires))

    def live_instances(self, now: float) -> set[str]:
        return {row[0] for row in self._connection.execute(_LIVE, (now,))}

    def retire(self, instance: str) -> None:
        self._connection.execute(_RETIRE, (instance,))

    def acquire_slot(self, holder: SlotHolder, limit: int, join: bool) -> SlotAnswer:
        item = (holder.step_id, holder.flow_id, holder.token)
        with self._transaction():
            found = self._connection.execute(_SLOT, item).fetchone()
            if found is not None and found[0] != holder.instance:
                return SlotAnswer.ELSEWHERE
            if found is not None and found[1]:
                return SlotAnswer.GRANTED
            if found is None:
                if not join:
                    return SlotAnswer.ABSENT
                self._connection.execute(_JOIN_QUEUE, (*item, holder.instance))
            held = self._connection.execute(_HELD_COUNT, (holder.step_id,)).fetchone()[0]
            free = limit - held
            first = self._connection.execute(_FIRST_IN_LINE, (holder.step_id, max(free, 0)))
            if (holder.flow_id, holder.token) in first.fetchall():
                self._connection.execute(_GRANT, item)
                return SlotAnswer.GRANTED
            return SlotAnswer.WAITING

    def release_slot(self, holder: SlotHolder, limit: int) -> list[SlotHolder]:
        step = holder.step_id
        with self._transaction():
            self._connection.execute(_RELEASE, (step, holder.flow_id, holder.token))
            free = limit - self._connection.execute(_HELD_COUNT, (step,)).fetchone()[0]
            first = self._connection.execute(_FIRST_WAITERS, (step, max(free, 0))).fetchall()
            for _, flow, token in first:
                self._connection.execute(_GRANT, (step, flow, token))
        return [SlotHolder(instance, flow, step, token) for instance, flow, token in first]

    def slots(self, step_id: str, held: bool) -> list[SlotHolder]:
        order = "flow, token" if held else "arrival"
        rows = self._connection.execute(_SLOTS + order, (step_id, int(held)))
        return [SlotHolder(instance, flow, step_id, token) for instance, flow, token in rows]

    def reap_slots(self, now: float) -> int:
        return self._connection.execute(_REAP, (now,)).rowcount

    def memo_get(self, key: str) -> Memo | None:
        row = self._connection.execute(_MEMO_GET, (key,)).fetchone()
        if row is None:
            return None
        step, outputs, flow, seq, created_at = row
        return Memo(StepID(step), json.loads(outputs), flow, seq, decode_time(created_at))

    def memo_put(self, key: str, memo: Memo, limit: int) -> None:
        row = (key, memo.step_id, json.dumps(memo.outputs), memo.flow_id, memo.seq)
        with self._transaction():
            self._connection.execute(_MEMO_PUT, (*row, encode_time(memo.created_at)))
            excess = self._connection.execute(_MEMO_COUNT).fetchone()[0] - limit
            if excess > 0:
                self._connection.execute(_MEMO_EVICT, (excess,))

    def memo_forget(self, step_id: str) -> int:
        return self._connection.execute(_MEMO_FORGET, (step_id,)).rowcount

    def ended_flows(self, before: str, limit: int) -> list[FlowSummary]:
        """The earliest-ended first, from each ended status's part of ``flows_by_end``."""
        found = [
            _flow_summary(row)
            for status in FlowStatus
            if status.ended
            for row in self._connection.execute(_ENDED, (status.value, before, limit))
        ]
        found.sort(key=lambda flow: (flow.completed_at, flow.id))
        return found[:limit]

    def remove_flows(self, flow_ids: Sequence[str], before: datetime) -> list[str]:
        removed = []
        with self._transaction():
            for flow_id in dict.fromkeys(flow_ids):
                row = self._connection.execute(_FLOW, (flow_id,)).fetchone()
                summary = None if row is None else _flow_summary(row)
                if summary is not None and expired(summary, before) and self._deactivated(flow_id):
                    self._remove_flow(summary)
                    removed.append(flow_id)
        return removed

    def _deactivated(self, flow_id: str) -> bool:
        return self._connection.execute(_IS_DEACTIVATED, (flow_id,)).fetchone() is not None

    def _remove_flow(self, summary: FlowSummary) -> None:
        """Delete the flow's events, rows, query-index rows and memos; uncount it."""
        flow_id, aggregate = summary.id, flow_aggregate(summary.id)
        execute = self._connection.execute
        execute(_REMOVE_EVENTS, (aggregate,))
        execute(_REMOVE_FLOW, (flow_id,))
        execute(_REMOVE_LABELS, (flow_id,))
        execute(_REMOVE_GOALS, (flow_id,))
        execute(_COUNT, (summary.status.value, -1))
        execute(_REMOVE_SNAPSHOT, (aggregate,))
        execute(_REMOVE_MEMOS, (flow_id,))

    def close(self) -> None:
        self._connection.close()


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


def _shutdown(*threads: ThreadPoolExecutor) -> None:
    for thread in threads:
        thread.shutdown(wait=False)


def _everything(aggregate: str, event_type: str) -> bool:
    return True


def _event(row: Row) -> Event:
    aggregate, seq, event_type, version, timestamp, data, position = row
    payload = codec.decode(event_type, version, data)
    return Event(aggregate, seq, decode_time(timestamp), payload, str(position))


def _flow_row(summary: FlowSummary) -> Row:
    completed_at = None if summary.completed_at is None else encode_time(summary.completed_at)
    return (
        summary.id,
        summary.status.value,
        encode_time(utc(summary.created_at)),
        completed_at,
        summary.error,
        json.dumps(dict(summary.labels)),
        summary.parent,
        json.dumps(list(summary.goals)),
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


class SQLiteEventStore(ClosesOnExit):
    """The async face of ``_Database``: queues appends into groups, follows the feed.

    Make one with ``await SQLiteEventStore.open(url)``.
    """

    def __init__(
        self,
        url: str,
        database: _Database,
        worker: ThreadPoolExecutor,
        head: int,
        memo_limit: int,
        reads: tuple[_Reads, ThreadPoolExecutor],
    ) -> None:
        self.url = url
        self.memo_limit = memo_limit
        self._database = database
        self._worker = worker
        self._reads, self._reader = reads
        self._head = head
        self._queue: list[_Append] = []
        self._writing: asyncio.Future[list[Outcome]] | None = None
        self._changes = ChangeSignal()
        self._recent: list[Event] = []
        self._closed = False

    @classmethod
    async def open(cls, url: str) -> SQLiteEventStore:
        location, memo_limit = split_memo_limit(url)
        path = sqlite_path(location)
        worker = ThreadPoolExecutor(1, thread_name_prefix="argyll-sqlite")
        loop = asyncio.get_running_loop()
        reader = worker if path == IN_MEMORY else ThreadPoolExecutor(1, "argyll-sqlite-reads")
        try:
            database = await loop.run_in_executor(worker, _Database, path)
            head = await loop.run_in_executor(worker, database.head)
            reads = await loop.run_in_executor(reader, database.reader)
        except (OSError, sqlite3.Error, StoreError) as error:
            _shutdown(worker, reader)
            raise StoreError(f"{url}: cannot open {path}: {error}") from error
        except BaseException:
            _shutdown(worker, reader)
            raise
        return cls(url, database, worker, head, memo_limit, (reads, reader))

    async def append(
        self, aggregate: str, expected: int, events: Sequence[EventData], timestamp: datetime
    ) -> list[Event]:
        self._check_open()
        stamp = encode_time(timestamp)
        rows = [
            (aggregate, expected + offset, stamp, *encode(data))
            for offset, data in enumerate(events, 1)
        ]
        future: asyncio.Future[list[Event]] = asyncio.get_running_loop().create_future()
        self._queue.append(_Append(aggregate, expected, events, timestamp, rows, future))
        if self._writing is None:
            self._flush()
        return await future

    async def read(self, aggregate: str, after: int = 0) -> list[Event]:
        return await self._call(self._database.read, aggregate, after)

    async def read_many(self, after: Mapping[str, int]) -> dict[str, list[Event]]:
        return await self._call(self._database.read_many, dict(after))

    async def version(self, aggregate: str) -> int:
        return await self._call(self._database.version, aggregate)

    async def read_all(self, after: str = "", limit: int = 1000) -> list[Event]:
        return await self._read(self._reads.read_feed, feed_index(after), limit)

    def subscribe(
        self, after: str | None = None, wanted: Wanted | None = None
    ) -> AsyncIterator[Event]:
        """Follow the feed; ``None`` starts after the last event this process knows of."""
        self._check_open()
        return self._follow(self._head if after is None else feed_index(after), wanted)

    async def head(self) -> str:
        head = await self._call(self._database.head)
        return str(head) if head else ""

    async def list_flows(
        self,
        status: FlowStatus | None = None,
        limit: int | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> list[FlowSummary]:
        """Newest first; flows created at the same moment come in descending id order."""
        return await self._read(self._reads.list_flows, status, limit, labels)

    async def query_flows(self, query: FlowQuery) -> FlowPage:
        return await self._read(self._reads.query_flows, query)

    async def flow_counts(self) -> dict[FlowStatus, int]:
        return await self._read(self._reads.counts)

    async def flow_summary(self, flow_id: str) -> FlowSummary | None:
        return await self._read(self._reads.flow_summary, flow_id)

    async def save_snapshot(self, aggregate: str, version: int, state: Mapping[str, Any]) -> None:
        await self._call(self._database.save_snapshot, aggregate, version, json.dumps(state))

    async def load_snapshot(self, aggregate: str) -> tuple[int, dict[str, Any]] | None:
        return await self._call(self._database.load_snapshot, aggregate)

    async def load_snapshots(
        self, aggregates: Sequence[str]
    ) -> dict[str, tuple[int, dict[str, Any]]]:
        return await self._call(self._database.load_snapshots, list(aggregates))

    async def heartbeat(self, instance: str, ttl: float) -> None:
        await self._call(self._database.heartbeat, instance, time.time() + ttl)

    async def live_instances(self) -> set[str]:
        return await self._call(self._database.live_instances, time.time())

    async def retire(self, instance: str) -> None:
        await self._call(self._database.retire, instance)

    async def acquire_slot(self, holder: SlotHolder, limit: int, join: bool = True) -> SlotAnswer:
        return await self._call(self._database.acquire_slot, holder, limit, join)

    async def release_slot(self, holder: SlotHolder, limit: int) -> list[SlotHolder]:
        return await self._call(self._database.release_slot, holder, limit)

    async def slot_holders(self, step_id: str) -> list[SlotHolder]:
        return await self._call(self._database.slots, step_id, True)

    async def slot_waiters(self, step_id: str) -> list[SlotHolder]:
        return await self._call(self._database.slots, step_id, False)

    async def reap_slots(self) -> int:
        return await self._call(self._database.reap_slots, time.time())

    async def memo_get(self, key: str) -> Memo | None:
        return await self._call(self._database.memo_get, key)

    async def memo_put(self, key: str, memo: Memo) -> None:
        await self._call(self._database.memo_put, key, memo, self.memo_limit)

    async def memo_forget(self, step_id: str) -> int:
        return await self._call(self._database.memo_forget, step_id)

    async def ended_flows(self, before: datetime, limit: int) -> list[FlowSummary]:
        if limit <= 0:
            return []
        return await self._call(self._database.ended_flows, encode_time(_utc(before)), limit)

    async def remove_flows(self, flow_ids: Sequence[str], before: datetime) -> list[str]:
        """One transaction for the batch, in the worker between appends (never beside one).

        Subscribers then read the feed from the file: the recent events kept for them
        might hold a removed one.
        """
        removed = await self._call(self._database.remove_flows, flow_ids, before)
        if removed:
            self._recent.clear()
        return removed

    async def aclose(self) -> None:
        """Write the appends already accepted, end every subscription, close the file."""
        if self._closed:
            return
        self._closed = True
        self._changes.fire()
        while self._writing is not None:
            await asyncio.wait([self._writing])
        loop = asyncio.get_running_loop()
        if self._reads is not self._database.reads:
            await loop.run_in_executor(self._reader, self._reads.close)
        await loop.run_in_executor(self._worker, self._database.close)
        _shutdown(self._worker, self._reader)

    def _flush(self) -> None:
        group, self._queue = self._queue, []
        loop = asyncio.get_running_loop()
        self._writing = loop.run_in_executor(self._worker, self._database.write_group, group)
        self._writing.add_done_callback(functools.partial(self._settle, group))

    def _settle(self, group: list[_Append], writing: asyncio.Future[list[Outcome]]) -> None:
        """Hand each caller its outcome; start on the appends that queued meanwhile."""
        self._writing = None
        if self._queue:
            self._flush()
        try:
            outcomes = writing.result()
        except BaseException as error:
            outcomes = [error] * len(group)
        for append, outcome in zip(group, outcomes, strict=True):
            if append.future.done():
                continue
            if isinstance(outcome, BaseException):
                append.future.set_exception(self._translate(outcome))
            else:
                append.future.set_result(outcome)
                self._remember(outcome)
        self._changes.fire()

    def _remember(self, events: list[Event]) -> None:
        """Keep the newest events while their positions run on without a gap."""
        if not events:
            return
        first = int(events[0].position)
        if self._recent and int(self._recent[-1].position) + 1 != first:
            self._recent.clear()
        elif len(self._recent) > 2 * RECENT_EVENTS:
            del self._recent[:RECENT_EVENTS]
        self._recent.extend(events)
        self._head = max(self._head, int(events[-1].position))

    def _recent_after(self, position: int) -> list[Event]:
        if not self._recent:
            return []
        start = position + 1 - int(self._recent[0].position)
        if start < 0 or start >= len(self._recent):
            return []
        return self._recent[start : start + FEED_BATCH]

    async def _follow(self, position: int, wanted: Wanted | None) -> AsyncIterator[Event]:
        """The feed after ``position``: what this process appended lately from memory, the
        rest read back (with ``wanted``, decoding only the entries it wants)."""
        want = wanted or _everything
        while not self._closed:
            changed = self._changes.waiter()
            recent = self._recent_after(position)
            if recent:
                last = int(recent[-1].position)
                batch = [event for event in recent if want(event.aggregate, event.type)]
            else:
                rows = await self._read(self._reads.feed_rows, position, FEED_BATCH)
                last = rows[-1][-1] if rows else position
                batch = [_event(row) for row in rows if want(row[0], row[2])]
            for event in batch:
                if self._closed:
                    return
                yield event
            if last == position:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(POLL_INTERVAL):
                        await changed.wait()
            position = last

    async def _call(self, function: Callable[..., T], *args: Any) -> T:
        return await self._run(self._worker, function, *args)

    async def _read(self, function: Callable[..., T], *args: Any) -> T:
        """A read on the reader's thread and connection, apart from the writer's."""
        return await self._run(self._reader, function, *args)

    async def _run(self, thread: ThreadPoolExecutor, function: Callable[..., T], *args: Any) -> T:
        self._check_open()
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(thread, function, *args)
        except sqlite3.Error as error:
            raise self._translate(error) from error

    def _translate(self, error: BaseException) -> BaseException:
        """The error a caller sees: a driver error becomes a StoreError naming the store."""
        if not isinstance(error, sqlite3.Error):
            return error
        translated = StoreError(f"{self.url}: {error}")
        translated.__cause__ = error
        return translated

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"{self.url}: the store is closed")


def _utc(moment: datetime) -> datetime:
    """An aware time in UTC, the offset stored times carry, so text order is time order."""
    return moment.astimezone(UTC) if moment.tzinfo is not None else moment
