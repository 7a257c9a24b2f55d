"""The async face of a SQLite store: group commit on the writer's thread, the feed followed."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from argyll.codec import encode, encode_time
from argyll.errors import StoreError, ValidationError
from argyll.events import Event, EventData
from argyll.flow_query import FlowPage, FlowQuery
from argyll.memo import Memo
from argyll.model import FlowStatus, FlowSummary
from argyll.store.base import ClosesOnExit, SlotAnswer, SlotHolder
from argyll.store.feed import ChangeSignal, Wanted, feed_index
from argyll.store.options import split_memo_limit
from argyll.store.sqlite.database import IN_MEMORY, Outcome, _Append, _Database
from argyll.store.sqlite.reads import _event, _Reads

T = TypeVar("T")

URL_PREFIX = "sqlite:///"
POLL_INTERVAL = 0.25
"""Seconds between looks for events appended by other processes."""
FEED_BATCH = 500
RECENT_EVENTS = 20_000
"""Events this process appended that subscribers get without reading them back."""


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


def _shutdown(*threads: ThreadPoolExecutor) -> None:
    for thread in threads:
        thread.shutdown(wait=False)


def _everything(aggregate: str, event_type: str) -> bool:
    return True


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
        rest read back (with ``wanted``, decoding only the entries it wants).

        Caught up with memory and woken by this process's own append, it does not look at
        the file: another process's append leaves a gap in the positions, which empties
        memory, so the file is read then, or at the latest after ``POLL_INTERVAL``.
        """
        want = wanted or _everything
        look = True
        while not self._closed:
            changed = self._changes.waiter()
            recent = self._recent_after(position)
            if recent:
                last = int(recent[-1].position)
                batch = [event for event in recent if want(event.aggregate, event.type)]
            elif look or not self._remembers_up_to(position):
                rows = await self._read(self._reads.feed_rows, position, FEED_BATCH)
                last = rows[-1][-1] if rows else position
                batch = [_event(row) for row in rows if want(row[0], row[2])]
            else:
                last, batch = position, []
            for event in batch:
                if self._closed:
                    return
                yield event
            if last == position:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(POLL_INTERVAL):
                        await changed.wait()
                look = not changed.is_set()
            position = last

    def _remembers_up_to(self, position: int) -> bool:
        return bool(self._recent) and int(self._recent[-1].position) == position

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
