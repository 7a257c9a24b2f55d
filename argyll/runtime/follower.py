"""The engine's one reader of the feed: what other writers append, seen by this engine.

Every engine on a store is handed every append through the feed, but it asks the
store to decode only what it needs (``FeedFollower.wants``, asked with an entry's
aggregate and type before its data is decoded):

- the catalog's events (a step another engine registered);
- every event of a flow it holds, ended lately, or has someone waiting for
  (``FlowCache.knows``): those it folds, or wakes the waiters on;
- of every other flow only its signals (``SIGNAL_TYPES``): what ``OpenWork``
  follows to take over dead instances' work, and the events that stop a flow's
  scripts (another instance canceled it, or it timed out);
- and what its listeners ask for (``listen``; one that gives no filter wants it all).

So an engine beside a busy one skips most of the feed undecoded, until it holds
those flows or a listener (an event log at a level that prints them) wants them.
A listener runs on the follower's turn: quick, and never raising.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from argyll.apply import FLOW_APPLIERS, fold
from argyll.events import CATALOG, FLOW_ENDED_TYPES, FLOW_PREFIX, Event, FlowCanceled, FlowFailed
from argyll.model import FlowID, FlowState
from argyll.runtime.flows import FlowCache
from argyll.runtime.leases import OpenWork
from argyll.runtime.tasks import BackgroundTasks
from argyll.store import EventStore
from argyll.store.feed import Wanted

STOPPING_TYPES = frozenset({FlowCanceled.type, FlowFailed.type})
"""Flow events after which none of the flow's scripts should go on running."""
SIGNAL_TYPES = OpenWork.TYPES | STOPPING_TYPES
"""The event types an engine decodes of every flow, held here or not."""

Listener = Callable[[Event], None]


class FeedFollower:
    """Folds what other writers appended into this engine's flows and catalog, keeps its
    ``OpenWork`` current, and hands its listeners what they asked for."""

    def __init__(
        self,
        flows: FlowCache,
        open_work: OpenWork,
        keep: Callable[[FlowState], None],
        catalog_version: Callable[[], int],
        refresh_catalog: Callable[[], Awaitable[None]],
        stop_scripts: Callable[[FlowID], None],
        read_flow: Callable[[FlowID], Awaitable[FlowState]],
        tasks: BackgroundTasks,
    ) -> None:
        self._flows, self._open_work, self._keep = flows, open_work, keep
        self._catalog_version, self._refresh_catalog = catalog_version, refresh_catalog
        self._stop_scripts, self._read_flow, self._tasks = stop_scripts, read_flow, tasks
        self._listeners: tuple[tuple[Listener, Wanted | None], ...] = ()

    def listen(self, listener: Listener, wanted: Wanted | None = None) -> Callable[[], None]:
        """Hand ``listener`` each event ``wanted`` says yes to (every one without it), from
        now on; returns the undo."""
        entry = (listener, wanted)
        self._listeners = (*self._listeners, entry)

        def undo() -> None:
            self._listeners = tuple(kept for kept in self._listeners if kept is not entry)

        return undo

    def wants(self, aggregate: str, event_type: str) -> bool:
        """Whether this engine needs a feed entry decoded (see the module's docstring)."""
        if event_type in SIGNAL_TYPES or aggregate == CATALOG:
            return True
        if aggregate.startswith(FLOW_PREFIX) and self._flows.knows(
            FlowID(aggregate[len(FLOW_PREFIX) :])
        ):
            return True
        return any(wanted is None or wanted(aggregate, event_type) for _, wanted in self._listeners)

    async def follow(self, store: EventStore, after: str) -> None:
        """Follow the feed after ``after`` until the store closes (or this is cancelled)."""
        async for event in store.subscribe(after, self.wants):
            self._open_work.observe(event)
            for listener, wanted in self._listeners:
                if wanted is None or wanted(event.aggregate, event.type):
                    listener(event)
            if event.aggregate == CATALOG:
                if event.seq > self._catalog_version():
                    await self._refresh_catalog()
            elif event.aggregate.startswith(FLOW_PREFIX):
                self._observe_flow(event)

    def _observe_flow(self, event: Event) -> None:
        flow_id = FlowID(event.aggregate[len(FLOW_PREFIX) :])
        cached = self._flows.get(flow_id)
        if cached is not None and event.seq == cached.version + 1:
            self._keep(fold(cached, [event], FLOW_APPLIERS))
        elif cached is None:
            self._flows.outdated(flow_id, event.seq)
        if event.type in STOPPING_TYPES and self._flows.get(flow_id) is None:
            # another instance canceled it, or it timed out; and no retry has run it since
            self._stop_scripts(flow_id)
        if cached is None and self._flows.awaited(flow_id) and event.type in FLOW_ENDED_TYPES:
            self._tasks.spawn(self._resolve_waiters(flow_id))

    async def _resolve_waiters(self, flow_id: FlowID) -> None:
        state = await self._read_flow(flow_id)
        if state.status.ended:
            self._keep(state)
