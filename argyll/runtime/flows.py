"""The flows an engine keeps in memory: states of active flows, summaries of ended ones, waiters.

An active flow's state stays cached after each decision, so the next trigger
folds only what other writers appended since. When a flow ends it leaves the
cache; its summary is kept (the newest ``ENDED_KEPT``) so status reads need no
store round trip, and everyone waiting for it is woken with its final state.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import Iterator

from argyll.flow_index import summary_of
from argyll.model import FlowID, FlowState, FlowSummary

ENDED_KEPT = 10_000
"""Summaries of flows that ended here, kept so status reads need no store round trip."""


class FlowCache:
    """Active flows' states by id, ended flows' summaries, and the futures awaiting their end."""

    def __init__(self) -> None:
        self._active: dict[FlowID, FlowState] = {}
        self._ended: OrderedDict[FlowID, FlowSummary] = OrderedDict()
        self._waiters: dict[FlowID, list[asyncio.Future[FlowState]]] = {}

    def get(self, flow_id: FlowID) -> FlowState | None:
        """The cached state of an active or paused flow, or None."""
        return self._active.get(flow_id)

    def summary(self, flow_id: FlowID) -> FlowSummary | None:
        """The index row of a flow this engine knows, active or ended here, or None."""
        cached = self._active.get(flow_id)
        return summary_of(cached) if cached else self._ended.get(flow_id)

    def keep(self, state: FlowState) -> bool:
        """Cache a running (active or paused) flow's state (True); an ended flow leaves the
        cache, keeping its summary and waking its waiters (False)."""
        if not state.status.ended:
            self._active[state.id] = state
            return True
        self._active.pop(state.id, None)
        self._ended[state.id] = summary_of(state)
        if len(self._ended) > ENDED_KEPT:
            self._ended.popitem(last=False)
        for waiter in self._waiters.pop(state.id, []):
            if not waiter.done():
                waiter.set_result(state)
        return False

    def forget(self, flow_id: FlowID) -> None:
        """Drop a cached state that may be out of date, so the next read goes to the store."""
        self._active.pop(flow_id, None)

    def removed(self, flow_id: FlowID) -> None:
        """Forget a flow whose history was removed from the store (retention)."""
        self._active.pop(flow_id, None)
        self._ended.pop(flow_id, None)

    def awaited(self, flow_id: FlowID) -> bool:
        return flow_id in self._waiters

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
