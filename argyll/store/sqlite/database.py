"""The writer: the connection every append, slot, memo and removal runs on, in one thread."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from argyll.codec import decode_time, encode_time
from argyll.errors import StoreError, VersionConflict
from argyll.events import Event, EventData
from argyll.flow_index import INDEXED_TYPES, IndexedData, summarize
from argyll.flow_query import utc
from argyll.memo import Memo
from argyll.model import FlowSummary, StepID
from argyll.store.base import SlotAnswer, SlotHolder
from argyll.store.sqlite import retention
from argyll.store.sqlite.flow_sql import _COUNT, _FLOW_COLUMNS, _flow_row
from argyll.store.sqlite.migrations import _MIGRATIONS, SCHEMA_VERSION
from argyll.store.sqlite.reads import _COLUMNS, _READ_FEED, _event, _Reads

IN_MEMORY = ":memory:"
BUSY_TIMEOUT = 10.0
"""Seconds to wait for another process's write lock before giving up."""
_VERSION = "SELECT coalesce(max(seq), 0) FROM events WHERE aggregate = ?"
_INSERT = (
    "INSERT INTO events (aggregate, seq, timestamp, type, data_version, data) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
_LAST_POSITION = "SELECT last_insert_rowid()"
_READ = f"SELECT {_COLUMNS} FROM events WHERE aggregate = ? AND seq > ? ORDER BY seq"  # noqa: S608 — only this package's column lists are interpolated
_HEAD = "SELECT coalesce(max(position), 0) FROM events"
_SAVE_FLOW = f"INSERT OR REPLACE INTO flows ({_FLOW_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"  # noqa: S608 — only this package's column lists are interpolated
_SAVE_LABEL = "INSERT OR IGNORE INTO flow_labels (id, name, value, created_at) VALUES (?, ?, ?, ?)"
_SAVE_GOAL = "INSERT OR IGNORE INTO flow_goals (id, goal, created_at) VALUES (?, ?, ?)"
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
        """The flow's row after ``event``; a new row's labels and goals; the counts it moves.

        A flow's first event has no row to read: a row is only ever written with the
        events of its flow, and removed with them.
        """
        flow_id = cast(IndexedData, event.data).flow_id
        old = None if event.seq == 1 else self.reads.flow_summary(flow_id)
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
        return retention.ended_flows(self._connection, before, limit)

    def remove_flows(self, flow_ids: Sequence[str], before: datetime) -> list[str]:
        with self._transaction():
            return retention.remove_flows(self._connection, flow_ids, before)

    def close(self) -> None:
        self._connection.close()
