"""An ephemeral event store in process memory (``memory://``).

It keeps the ``Event`` objects as they are, with no serialization (so no codec):
the engine runs several thousand flows a second on it. A position is the 1-based
index of the event in the global feed, as a string (``argyll.store.feed``).
Snapshots and memo outputs are kept as JSON text, so a caller's later change to
a saved state cannot reach the copy. Memo entries are kept in use order (the
least recently used first), so eviction takes the first. A removed flow's events
leave holes (None) in the feed list, so every other event keeps its position.
"""

from __future__ import annotations

import heapq
import itertools
import json
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, cast

from argyll.errors import StoreError, VersionConflict
from argyll.events import Event, EventData, FlowDeactivated, flow_aggregate
from argyll.flow_index import INDEXED_TYPES, IndexedData, summarize
from argyll.flow_query import FlowPage, FlowQuery
from argyll.memo import Memo
from argyll.model import FlowStatus, FlowSummary
from argyll.retention import expired
from argyll.store.base import MEMO_LIMIT, ClosesOnExit, SlotAnswer, SlotHolder
from argyll.store.feed import ChangeSignal, Wanted, feed_index
from argyll.store.memory_index import MemoryFlowIndex

Item = tuple[str, str]
"""A work item by (flow, token), within its step."""


@dataclass(slots=True)
class _StepSlots:
    """One step's slots: the items holding one and the queue, each with its instance."""

    held: dict[Item, str] = field(default_factory=dict)
    queue: dict[Item, str] = field(default_factory=dict)
    """In arrival order (dicts keep insertion order)."""


class MemoryEventStore(ClosesOnExit):
    """Streams per aggregate plus one global feed, and the flow index, all in dicts and lists."""

    def __init__(self, memo_limit: int = MEMO_LIMIT) -> None:
        self.url = "memory://"
        self.memo_limit = memo_limit
        self._memos: OrderedDict[str, tuple[Memo, str]] = OrderedDict()
        """key -> (the memo, its outputs as JSON), least recently used first."""
        self._memo_keys: dict[str, set[str]] = {}
        """step id -> the keys of its memos."""
        self._memo_flows: dict[str, set[str]] = {}
        """flow id -> the keys of the memos it produced."""
        self._streams: dict[str, list[Event]] = {}
        self._feed: list[Event | None] = []
        """Every event by position - 1; None where a removed flow's event was."""
        self._index = MemoryFlowIndex()
        self._flows = self._index.rows
        self._instances: dict[str, float] = {}
        self._snapshots: dict[str, tuple[int, str]] = {}
        self._slots: dict[str, _StepSlots] = {}
        self._changes = ChangeSignal()
        self._closed = False

    async def append(
        self, aggregate: str, expected: int, events: Sequence[EventData], timestamp: datetime
    ) -> list[Event]:
        self._check_open()
        stream = self._streams.get(aggregate)
        actual = len(stream) if stream else 0
        if actual != expected:
            raise VersionConflict(aggregate, expected, actual)
        start = len(self._feed)
        appended = [
            Event(aggregate, expected + offset, timestamp, data, str(start + offset))
            for offset, data in enumerate(events, 1)
        ]
        if stream is None:
            self._streams[aggregate] = stream = []
        stream.extend(appended)
        self._feed.extend(appended)
        for event in appended:
            if event.data.type in INDEXED_TYPES:
                self._index_event(event)
        self._changes.fire()
        return appended

    async def read(self, aggregate: str, after: int = 0) -> list[Event]:
        self._check_open()
        return self._streams.get(aggregate, [])[max(after, 0) :]

    async def read_many(self, after: Mapping[str, int]) -> dict[str, list[Event]]:
        self._check_open()
        found = {name: self._streams.get(name, [])[max(seq, 0) :] for name, seq in after.items()}
        return {name: events for name, events in found.items() if events}

    async def version(self, aggregate: str) -> int:
        self._check_open()
        return len(self._streams.get(aggregate, ()))

    async def read_all(self, after: str = "", limit: int = 1000) -> list[Event]:
        self._check_open()
        start = feed_index(after)
        found: list[Event] = []
        for position in range(start, len(self._feed)):
            if len(found) >= limit:
                break
            event = self._feed[position]
            if event is not None:
                found.append(event)
        return found

    def subscribe(
        self, after: str | None = None, wanted: Wanted | None = None
    ) -> AsyncIterator[Event]:
        """Follow the feed; ``None`` starts at the head as of this call, not the first read."""
        self._check_open()
        return self._follow(len(self._feed) if after is None else feed_index(after), wanted)

    async def head(self) -> str:
        self._check_open()
        return str(len(self._feed)) if self._feed else ""

    async def list_flows(
        self,
        status: FlowStatus | None = None,
        limit: int | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> list[FlowSummary]:
        """Newest first; flows created at the same moment come in descending id order."""
        self._check_open()
        flows = self._flows.values()
        if status is not None:
            flows = [flow for flow in flows if flow.status is status]
        if labels:
            flows = [flow for flow in flows if flow.has_labels(labels)]
        if limit is None:
            return sorted(flows, key=_newest_first, reverse=True)
        return heapq.nlargest(limit, flows, key=_newest_first)

    async def query_flows(self, query: FlowQuery) -> FlowPage:
        self._check_open()
        return self._index.query(query)

    async def flow_counts(self) -> dict[FlowStatus, int]:
        self._check_open()
        return self._index.counts()

    async def flow_summary(self, flow_id: str) -> FlowSummary | None:
        self._check_open()
        return self._flows.get(flow_id)

    async def save_snapshot(self, aggregate: str, version: int, state: Mapping[str, Any]) -> None:
        self._check_open()
        self._snapshots[aggregate] = (version, json.dumps(state))

    async def load_snapshot(self, aggregate: str) -> tuple[int, dict[str, Any]] | None:
        self._check_open()
        saved = self._snapshots.get(aggregate)
        return None if saved is None else (saved[0], json.loads(saved[1]))

    async def load_snapshots(
        self, aggregates: Sequence[str]
    ) -> dict[str, tuple[int, dict[str, Any]]]:
        self._check_open()
        saved = {name: self._snapshots.get(name) for name in aggregates}
        return {name: (it[0], json.loads(it[1])) for name, it in saved.items() if it is not None}

    async def heartbeat(self, instance: str, ttl: float) -> None:
        self._instances[instance] = time.monotonic() + ttl

    async def live_instances(self) -> set[str]:
        now = time.monotonic()
        return {name for name, expires in self._instances.items() if expires > now}

    async def retire(self, instance: str) -> None:
        self._instances.pop(instance, None)

    async def acquire_slot(self, holder: SlotHolder, limit: int, join: bool = True) -> SlotAnswer:
        self._check_open()
        slots = self._slots.setdefault(holder.step_id, _StepSlots())
        item, me = (holder.flow_id, holder.token), holder.instance
        owner = slots.held.get(item)
        if owner is not None:
            return SlotAnswer.GRANTED if owner == me else SlotAnswer.ELSEWHERE
        queued = slots.queue.get(item)
        if queued is not None and queued != me:
            return SlotAnswer.ELSEWHERE
        if queued is None:
            if not join:
                return SlotAnswer.ABSENT
            slots.queue[item] = me
        free = limit - len(slots.held)
        if free > 0 and item in itertools.islice(slots.queue, free):
            del slots.queue[item]
            slots.held[item] = me
            return SlotAnswer.GRANTED
        return SlotAnswer.WAITING

    async def release_slot(self, holder: SlotHolder, limit: int) -> list[SlotHolder]:
        self._check_open()
        slots = self._slots.get(holder.step_id)
        if slots is None:
            return []
        item = (holder.flow_id, holder.token)
        slots.held.pop(item, None)
        slots.queue.pop(item, None)
        free = limit - len(slots.held)
        granted = list(itertools.islice(slots.queue.items(), max(free, 0)))
        for (flow, token), instance in granted:
            del slots.queue[flow, token]
            slots.held[flow, token] = instance
        return [SlotHolder(me, flow, holder.step_id, token) for (flow, token), me in granted]

    async def slot_holders(self, step_id: str) -> list[SlotHolder]:
        self._check_open()
        held = self._slots.get(step_id, _StepSlots()).held
        return [SlotHolder(held[item], item[0], step_id, item[1]) for item in sorted(held)]

    async def slot_waiters(self, step_id: str) -> list[SlotHolder]:
        self._check_open()
        queue = self._slots.get(step_id, _StepSlots()).queue
        return [SlotHolder(me, flow, step_id, token) for (flow, token), me in queue.items()]

    async def reap_slots(self) -> int:
        self._check_open()
        live = await self.live_instances()
        freed = 0
        for slots in self._slots.values():
            for table in (slots.held, slots.queue):
                dead = [item for item, instance in table.items() if instance not in live]
                for item in dead:
                    del table[item]
                freed += len(dead)
        return freed

    async def memo_get(self, key: str) -> Memo | None:
        self._check_open()
        kept = self._memos.get(key)
        if kept is None:
            return None
        self._memos.move_to_end(key)
        memo, outputs = kept
        return replace(memo, outputs=json.loads(outputs))

    async def memo_put(self, key: str, memo: Memo) -> None:
        self._check_open()
        self._drop_memo(key)
        while len(self._memos) >= self.memo_limit:
            self._drop_memo(next(iter(self._memos)))
        self._memos[key] = (replace(memo, outputs={}), json.dumps(memo.outputs))
        self._memo_keys.setdefault(memo.step_id, set()).add(key)
        self._memo_flows.setdefault(memo.flow_id, set()).add(key)

    async def memo_forget(self, step_id: str) -> int:
        self._check_open()
        keys = self._memo_keys.pop(step_id, set())
        for key in keys:
            memo, _ = self._memos.pop(key)
            self._forget_produced(memo.flow_id, key)
        return len(keys)

    async def ended_flows(self, before: datetime, limit: int) -> list[FlowSummary]:
        self._check_open()
        ended = (
            flow
            for flow in self._flows.values()
            if expired(flow, before) and self._deactivated(flow.id)
        )
        return heapq.nsmallest(max(limit, 0), ended, key=_ended_first)

    async def remove_flows(self, flow_ids: Sequence[str], before: datetime) -> list[str]:
        self._check_open()
        removed = []
        for flow_id in dict.fromkeys(flow_ids):
            summary = self._flows.get(flow_id)
            if summary is not None and expired(summary, before) and self._deactivated(flow_id):
                self._remove_flow(flow_id)
                removed.append(flow_id)
        return removed

    def _deactivated(self, flow_id: str) -> bool:
        """Whether the flow's last event is its deactivation: no compensation still runs."""
        stream = self._streams.get(flow_aggregate(flow_id))
        return bool(stream) and stream[-1].data.type == FlowDeactivated.type

    def _remove_flow(self, flow_id: str) -> None:
        aggregate = flow_aggregate(flow_id)
        for event in self._streams.pop(aggregate, []):
            self._feed[int(event.position) - 1] = None
        self._index.remove(flow_id)
        self._snapshots.pop(aggregate, None)
        for key in self._memo_flows.pop(flow_id, set()):
            self._drop_memo(key)

    def _drop_memo(self, key: str) -> None:
        kept = self._memos.pop(key, None)
        if kept is not None:
            self._memo_keys[kept[0].step_id].discard(key)
            self._forget_produced(kept[0].flow_id, key)

    def _forget_produced(self, flow_id: str, key: str) -> None:
        """Take ``key`` off the flow's memo keys; a flow with none left leaves the table."""
        produced = self._memo_flows.get(flow_id)
        if produced is not None:
            produced.discard(key)
            if not produced:
                del self._memo_flows[flow_id]

    async def aclose(self) -> None:
        """Refuse further calls and end every subscription."""
        self._closed = True
        self._changes.fire()

    async def _follow(self, position: int, wanted: Wanted | None) -> AsyncIterator[Event]:
        while not self._closed:
            if position < len(self._feed):
                position += 1
                event = self._feed[position - 1]
                if event is not None and (wanted is None or wanted(event.aggregate, event.type)):
                    yield event
            else:
                await self._changes.waiter().wait()

    def _index_event(self, event: Event) -> None:
        flow_id = cast(IndexedData, event.data).flow_id
        summary = summarize(self._flows.get(flow_id), event)
        if summary is not None:
            self._index.put(summary)

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"{self.url}: the store is closed")


def _newest_first(summary: FlowSummary) -> tuple[datetime, str]:
    return summary.created_at, summary.id


def _ended_first(summary: FlowSummary) -> tuple[datetime, str]:
    return cast(datetime, summary.completed_at), summary.id
