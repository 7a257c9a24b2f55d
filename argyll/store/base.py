"""The store protocol, in the roles it plays; ``EventStore`` is all of them together.

A backend can be written, and tested with ``argyll.store.contract``, role by role:

- ``Streams``: each aggregate's events (append, read, version; read_many for a batch);
- ``Feed``: every event of every aggregate in one order (read_all, subscribe, head);
- ``FlowIndex``: one row per flow, kept by ``argyll.flow_index.summarize`` as flow
  events are appended (list_flows, query_flows, flow_counts, flow_summary);
- ``Snapshots``: a folded state kept to be read back cheaply (one or a batch at a time);
- ``Leases``: which engine instances are alive (heartbeat, live_instances, retire);
- ``Slots``: how many work items of a step with a concurrency limit run at once,
  over every engine on the store (acquire_slot, release_slot, slot_holders,
  slot_waiters, reap_slots);
- ``Memos``: memoized results of memoizable steps, by memo key, bounded in number
  (memo_get, memo_put, memo_forget);
- ``Retention``: finding flows that ended long ago and removing their history
  (ended_flows, remove_flows);
- ``Lifecycle``: the store's URL and closing it.

Appends are optimistic: the writer states the version it read, and a store that
holds a different version refuses with ``VersionConflict``. A batch is appended
atomically or not at all. The global feed orders every event of every aggregate;
``position`` is opaque to callers and only handed back to the same store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, Self

from argyll.events import Event, EventData
from argyll.flow_query import FlowPage, FlowQuery
from argyll.memo import Memo
from argyll.model import FlowStatus, FlowSummary
from argyll.store.feed import Wanted


class Streams(Protocol):
    """Per-aggregate event streams with optimistic appends."""

    async def append(
        self, aggregate: str, expected: int, events: Sequence[EventData], timestamp: datetime
    ) -> list[Event]:
        """Append ``events`` after version ``expected``; raise VersionConflict if stale."""
        ...

    async def read(self, aggregate: str, after: int = 0) -> list[Event]:
        """The aggregate's events with seq > ``after``, in order."""
        ...

    async def version(self, aggregate: str) -> int:
        """The aggregate's last seq (0 when it has no events)."""
        ...

    async def read_many(self, after: Mapping[str, int]) -> dict[str, list[Event]]:
        """Each aggregate's events with seq > the version given for it, in one call of the
        store (a restart reads its flows a batch at a time); absent when it has none."""
        ...


class Feed(Protocol):
    """The global feed: every appended event, in one order, by opaque position."""

    async def read_all(self, after: str = "", limit: int = 1000) -> list[Event]:
        """Up to ``limit`` events of the global feed after ``position`` ("" = the start)."""
        ...

    def subscribe(
        self, after: str | None = None, wanted: Wanted | None = None
    ) -> AsyncIterator[Event]:
        """The global feed from ``after`` ("" = the start, None = from now on), then live.

        With ``wanted``, only the entries it says yes to (asked with each entry's
        aggregate and type, in feed order, before its data is decoded); the others are
        never decoded nor yielded.
        """
        ...

    async def head(self) -> str:
        """The position of the newest event in the global feed ("" when empty)."""
        ...


class FlowIndex(Protocol):
    """One row per flow, updated in the same write as the flow event that changes it."""

    async def list_flows(
        self,
        status: FlowStatus | None = None,
        limit: int | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> list[FlowSummary]:
        """Flows from the index, newest first, without folding their events; with ``labels``,
        only those that carry every one of them."""
        ...

    async def query_flows(self, query: FlowQuery) -> FlowPage:
        """One page of the rows that match ``query``, in its order, from its cursor on.

        The cost grows with the page (and how many rows of the narrowest index the
        filters skip), not with how many flows the store holds.
        """
        ...

    async def flow_counts(self) -> dict[FlowStatus, int]:
        """How many flows are in each status (every status present, zero or not)."""
        ...

    async def flow_summary(self, flow_id: str) -> FlowSummary | None:
        """The flow's index row, or None when no ``flow_started`` of it was appended."""
        ...


class Snapshots(Protocol):
    """A state folded up to a version, kept so a long history need not be read again."""

    async def save_snapshot(self, aggregate: str, version: int, state: Mapping[str, Any]) -> None:
        """Keep ``state``, the aggregate folded up to ``version``, to read it back cheaply."""
        ...

    async def load_snapshot(self, aggregate: str) -> tuple[int, dict[str, Any]] | None:
        """The latest snapshot saved for ``aggregate`` as (version, state), if any."""
        ...

    async def load_snapshots(
        self, aggregates: Sequence[str]
    ) -> dict[str, tuple[int, dict[str, Any]]]:
        """``load_snapshot`` of each aggregate in one call: those that have one."""
        ...


class Leases(Protocol):
    """Heartbeats of engine instances, so the living take over the work of the dead."""

    async def heartbeat(self, instance: str, ttl: float) -> None:
        """Say ``instance`` is alive for the next ``ttl`` seconds."""
        ...

    async def live_instances(self) -> set[str]:
        """The instances whose last heartbeat has not yet lapsed."""
        ...

    async def retire(self, instance: str) -> None:
        """Forget ``instance`` at once (a clean shutdown), so others take on its work now."""
        ...


@dataclass(frozen=True, slots=True)
class SlotHolder:
    """A work item holding, or waiting for, a slot of its step: who asks, for which item."""

    instance: str
    flow_id: str
    step_id: str
    token: str


class SlotAnswer(StrEnum):
    """What ``acquire_slot`` found for the item."""

    GRANTED = "granted"
    """The item holds a slot, for the instance that asked (now or before)."""
    WAITING = "waiting"
    """The item waits in the step's queue for the instance that asked."""
    ELSEWHERE = "elsewhere"
    """Another instance holds or waits for a slot for this item."""
    ABSENT = "absent"
    """The item neither holds nor waits (released), and the ask was not to join."""


class Slots(Protocol):
    """Concurrency slots: at most ``limit`` items of a step hold one, the rest wait in order.

    An item is known by (flow, step, token); it holds or waits for at most one slot,
    for one instance. Each call is one atomic step of the store: nothing is locked
    between calls, so a holder that is never released is freed only by
    ``reap_slots`` once its instance's lease has lapsed.
    """

    async def acquire_slot(self, holder: SlotHolder, limit: int, join: bool = True) -> SlotAnswer:
        """Grant ``holder`` a slot if fewer than ``limit`` are held and no earlier waiter
        is owed one; otherwise it waits, joining the end of the queue (``join``) if new."""
        ...

    async def release_slot(self, holder: SlotHolder, limit: int) -> list[SlotHolder]:
        """Free the item's slot, or take it out of the queue (whichever instance asked), and
        hand the free slots (up to ``limit`` held) to the first in line: those it granted."""
        ...

    async def slot_holders(self, step_id: str) -> list[SlotHolder]:
        """The items that hold a slot of the step, by flow and token."""
        ...

    async def slot_waiters(self, step_id: str) -> list[SlotHolder]:
        """The items waiting for a slot of the step, first in line first."""
        ...

    async def reap_slots(self) -> int:
        """Free the slots and queue places of instances whose lease has lapsed; how many."""
        ...


MEMO_LIMIT = 100_000
"""Memo entries a store keeps unless its URL says otherwise (``?memo_limit=``)."""


class Memos(Protocol):
    """Memoized results, by the key ``argyll.memo.memo_key`` gives, for every engine on the store.

    At most ``memo_limit`` entries are kept: a put that would exceed it first evicts
    the least recently used entry, the one whose last put or hit is the oldest. Each
    call is one atomic step of the store (on Redis, one round trip).
    """

    memo_limit: int
    """The most entries kept (``?memo_limit=`` in the URL); a change counts from the next put."""

    async def memo_get(self, key: str) -> Memo | None:
        """The entry kept under ``key``, if any; a hit counts as a use (it is evicted last)."""
        ...

    async def memo_put(self, key: str, memo: Memo) -> None:
        """Keep ``memo`` under ``key`` (replacing what was there), evicting beyond the limit."""
        ...

    async def memo_forget(self, step_id: str) -> int:
        """Drop every entry of the step (it was updated or unregistered); how many."""
        ...


class Retention(Protocol):
    """Bounded history: the flows that ended before a cutoff, and removing what they left.

    Removing a flow takes its events out of its stream and of the global feed (the
    positions of every other event stay as they were), its index row, its snapshot and
    the memo entries it produced (a later hit would name an event that is gone; the
    result is worked out again instead), and its place in the query indexes and counts.
    Only a flow that has ended (completed, failed or canceled) before the cutoff and
    whose last event is its deactivation (no compensation still running) is removed,
    checked in the same write as the removal, so a flow retried meanwhile stays.
    """

    async def ended_flows(self, before: datetime, limit: int) -> list[FlowSummary]:
        """Up to ``limit`` deactivated flows that ended before ``before``; which come first
        is the store's choice (the earliest-ended or earliest-created first), so a sweep can
        take them in bounded batches until none is left."""
        ...

    async def remove_flows(self, flow_ids: Sequence[str], before: datetime) -> list[str]:
        """Remove each listed flow that ended before ``before``; the ids of those removed."""
        ...


class Lifecycle(Protocol):
    """A store has a URL (shown without secrets) and is closed once."""

    url: str

    async def aclose(self) -> None:
        """Release the store: its subscriptions end, later reads and appends raise StoreError."""
        ...


class EventStore(
    Streams, Feed, FlowIndex, Snapshots, Leases, Slots, Memos, Retention, Lifecycle, Protocol
):
    """Everything the engine needs of a store."""


class ClosesOnExit:
    """``async with store:`` closes the store on the way out."""

    async def aclose(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
