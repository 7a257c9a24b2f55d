"""The flows an engine keeps in memory: states of active flows, ended ones, waiters.

An active flow's state stays cached after each decision, so the next trigger
folds only what other writers appended since. When a flow ends it leaves the
active cache; its summary is kept (the newest ``ENDED_KEPT``) so status reads
need no store round trip, its final state too (the newest ``FINAL_KEPT``) so a
wait or a read just after the end folds nothing, and everyone waiting for it is
woken with its final state, once this engine has finished any append it is making
to the flow (``appending``): the feed follower folds the engine's own events while
their memos are still being stored, and a waiter answered then could start the same
work and miss the memo. What is kept of an end is dropped as soon as another writer
is seen appending to the flow after it (a retry elsewhere).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import Iterator
from typing import TypeVar

from argyll.flow_index import summary_of
from argyll.model import FlowID, FlowState, FlowSummary

K = TypeVar("K")
V = TypeVar("V")

ENDED_KEPT = 10_000
"""Summaries of flows that ended here, kept so status reads need no store round trip."""
FINAL_KEPT = 1_000
"""Final states of flows that ended here, so a wait or read just after the end folds nothing."""


class FlowCache:
    """Active flows' states by id, ended flows' summaries and final states, and the futures
    awaiting their end."""

    def __init__(self) -> None:
        self._active: dict[FlowID, FlowState] = {}
        self._ended: OrderedDict[FlowID, tuple[int, FlowSummary]] = OrderedDict()
        self._final: OrderedDict[FlowID, FlowState] = OrderedDict()
        self._waiters: dict[FlowID, list[asyncio.Future[FlowState]]] = {}
        self._appending: dict[FlowID, int] = {}

    def get(self, flow_id: FlowID) -> FlowState | None:
        """The cached state of an active or paused flow, or None."""
        return self._active.get(flow_id)

    def final(self, flow_id: FlowID) -> FlowState | None:
        """The final state of a flow that ended here lately, or None."""
        return self._final.get(flow_id)

    def summary(self, flow_id: FlowID) -> FlowSummary | None:
        """The index row of a flow this engine knows, active or ended here, or None."""
        cached = self._active.get(flow_id)
        if cached is not None:
            return summary_of(cached)
        ended = self._ended.get(flow_id)
        return ended[1] if ended else None

    def keep(self, state: FlowState) -> bool:
        """Cache a running (active or paused) flow's state (True); an ended flow leaves the
        cache, keeping its summary and final state and waking its waiters (False)."""
        if not state.status.ended:
            self._active[state.id] = state
            self._drop_end(state.id)
            return True
        self._active.pop(state.id, None)
        _bounded_put(self._ended, state.id, (state.version, summary_of(state)), ENDED_KEPT)
        _bounded_put(self._final, state.id, state, FINAL_KEPT)
        if state.id not in self._appending:
            self._wake(state)
        return False

    def _wake(self, state: FlowState) -> None:
        for waiter in self._waiters.pop(state.id, []):
            if not waiter.done():
                waiter.set_result(state)

    def is_appending(self, flow_id: FlowID) -> bool:
        return flow_id in self._appending

    @contextlib.contextmanager
    def appending(self, flow_id: FlowID) -> Iterator[None]:
        """While this engine completes an append to the flow, its end wakes nobody; on the
        last such append's exit, the waiters get the final state if the flow has ended."""
        self._appending[flow_id] = self._appending.get(flow_id, 0) + 1
        try:
            yield
        finally:
            left = self._appending.pop(flow_id) - 1
            if left:
                self._appending[flow_id] = left
            elif (final := self._final.get(flow_id)) is not None:
                self._wake(final)

    def forget(self, flow_id: FlowID) -> None:
        """Drop a cached state that may be out of date, so the next read goes to the store."""
        self._active.pop(flow_id, None)

    def removed(self, flow_id: FlowID) -> None:
        """Forget a flow whose history was removed from the store (retention)."""
        self._active.pop(flow_id, None)
        self._drop_end(flow_id)

    def outdated(self, flow_id: FlowID, seq: int) -> None:
        """Event ``seq`` of a flow not active here was seen: what was kept of its end is
        stale if the event came after it."""
        ended = self._ended.get(flow_id)
        if ended is not None and seq > ended[0]:
            self._drop_end(flow_id)

    def _drop_end(self, flow_id: FlowID) -> None:
        self._ended.pop(flow_id, None)
        self._final.pop(flow_id, None)

    def awaited(self, flow_id: FlowID) -> bool:
        return flow_id in self._waiters

    def knows(self, flow_id: FlowID) -> bool:
        """Whether the flow is cached here, ended here lately, or awaited: its every event
        matters to this engine."""
        return flow_id in self._active or flow_id in self._ended or flow_id in self._waiters

    @contextlib.contextmanager
    def waiting(self, flow_id: FlowID) -> Iterator[asyncio.Future[FlowState]]:
        """A future resolved with the flow's state when it ends here; withdrawn on exit."""
        waiter: asyncio.Future[FlowState] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(flow_id, []).append(waiter)
        try:
            yield waiter
        finally:
            waiters = self._waiters.get(flow_id, [])
            if waiter in waiters:
                waiters.remove(waiter)
            if not waiters:
                self._waiters.pop(flow_id, None)


def _bounded_put(kept: OrderedDict[K, V], key: K, value: V, bound: int) -> None:
    """Keep ``value`` as the newest entry, dropping the oldest beyond ``bound``."""
    kept[key] = value
    kept.move_to_end(key)
    if len(kept) > bound:
        kept.popitem(last=False)
