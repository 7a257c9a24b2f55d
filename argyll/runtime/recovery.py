"""Recovery: every running flow read back from the store at start-up, a batch at a time,
and the flows of dead instances taken on later (``Recovery``).

A restart must fold each active or paused flow before it can take over their work.
One flow at a time costs a few store round trips each (the snapshot, then the
events), which for 100,000 flows is minutes; here a batch of ``RECOVERY_BATCH``
flows costs two calls of the store (``load_snapshots`` then ``read_many``), and
the folding runs between them.

While a restart reads its flows back it allocates little but long-lived states, by
the hundred thousand; the cyclic garbage collector would walk them again and again
for nothing (it doubled a 100,000-flow restart), so it pauses meanwhile
(``collector_paused``). Reference counting still frees what is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from datetime import datetime

from argyll import collect, decide
from argyll.apply import FLOW_APPLIERS, fold, fold_flow
from argyll.events import FlowDeactivated, flow_aggregate
from argyll.model import UNDOING, FlowID, FlowState, FlowStatus, flow_state_from_dict
from argyll.runtime.clock import Clock
from argyll.runtime.dispatch import Rule
from argyll.runtime.flows import FlowCache
from argyll.runtime.leases import OpenWork
from argyll.runtime.snapshots import read_flow
from argyll.runtime.takeover import IsDead
from argyll.store import EventStore

RECOVERY_BATCH = 1000
"""Flows read back with one call of the store for their snapshots and one for their events."""
RUNNING = (FlowStatus.ACTIVE, FlowStatus.PAUSED)


async def read_flows(store: EventStore, flow_ids: Sequence[str]) -> list[FlowState]:
    """The flows' states, each folded from its snapshot and what came after it (or from its
    first event); a flow with no events is left out."""
    aggregates = [flow_aggregate(flow_id) for flow_id in flow_ids]
    snapshots = await store.load_snapshots(aggregates)
    after = {aggregate: snapshots.get(aggregate, (0, {}))[0] for aggregate in aggregates}
    newer = await store.read_many(after)
    states = []
    for aggregate in aggregates:
        events = newer.get(aggregate, [])
        if aggregate in snapshots:
            version, data = snapshots[aggregate]
            states.append(fold(flow_state_from_dict(data, version), events, FLOW_APPLIERS))
        elif events:
            states.append(fold_flow(events))
    return states


async def catch_up(store: EventStore, known: Mapping[FlowID, FlowState | None]) -> list[FlowState]:
    """Each flow at the store's newest: a known state folded with the events after it, an
    unknown one read back whole; a call of the store or two for the lot."""
    cached = {flow_aggregate(flow_id): state for flow_id, state in known.items() if state}
    newer = await store.read_many({aggregate: state.version for aggregate, state in cached.items()})
    states = [
        fold(state, newer.get(aggregate, []), FLOW_APPLIERS) for aggregate, state in cached.items()
    ]
    unknown = [flow_id for flow_id, state in known.items() if state is None]
    return states + (await read_flows(store, unknown) if unknown else [])


async def running_flows(
    store: EventStore, batch: int = RECOVERY_BATCH
) -> AsyncIterator[list[FlowState]]:
    """Every active and paused flow of the index, ``batch`` flows at a time."""
    for status in RUNNING:
        ids: list[FlowID] = [summary.id for summary in await store.list_flows(status)]
        for first in range(0, len(ids), batch):
            yield await read_flows(store, ids[first : first + batch])


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off inside, back as it was on the way out."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


Schedule = Callable[[FlowID, datetime], None]
"""Wake a flow at a moment (a deadline found in a flow read back)."""
Trigger = Callable[[FlowID, Rule], Awaitable[FlowState]]
"""Decide on a flow's freshest state and append (the engine's loop)."""


class Recovery:
    """Taking on running flows: every one at start-up, then those of instances that died."""

    def __init__(
        self,
        store: Callable[[], EventStore],
        flows: FlowCache,
        keep: Callable[[FlowState], None],
        open_work: OpenWork,
        schedule: Schedule,
        clock: Clock,
        test: collect.Test,
        trigger: Trigger,
    ) -> None:
        self._store, self._flows, self._keep = store, flows, keep
        self._open_work, self._schedule = open_work, schedule
        self._clock, self._test, self._trigger = clock, test, trigger

    async def resume(self) -> list[FlowState]:
        """Every running flow read back and cached, its open work seeded and its deadlines
        scheduled; then failed and canceled flows still compensating seeded. Returns the
        running flows."""
        running = []
        async for states in running_flows(self._store()):
            for state in states:
                self._keep(state)
                running.append(state)
                self._open_work.seed(state)
                if state.deadline is not None:
                    self._schedule(state.id, state.deadline)
                for at in collect.deadlines(state, self._clock.now(), self._test):
                    self._schedule(state.id, at)
        await self._seed_compensations()
        return running

    async def _seed_compensations(self) -> None:
        """Failed and canceled flows not yet deactivated: their compensation is carried on.

        The flow index does not tell which ended flows still compensate, so each failed
        or canceled flow's last event is read, and only a flow that does not end with
        its deactivation is folded (see docs/steps.md, "Compensation").
        """
        store = self._store()
        for status in UNDOING:
            for summary in await store.list_flows(status):
                aggregate = flow_aggregate(summary.id)
                last = await store.read(aggregate, after=await store.version(aggregate) - 1)
                if last and isinstance(last[-1].data, FlowDeactivated):
                    continue
                self._open_work.seed(await read_flow(store, summary.id))

    async def take_over(self, flow_ids: Sequence[FlowID], dead: IsDead) -> None:
        """Re-decide flows whose work dead instances held, each from the store's newest state
        of it (read for them all at once), so that their claims reach the store together."""
        known = {flow_id: self._flows.get(flow_id) for flow_id in flow_ids}
        for state in await catch_up(self._store(), known):
            if self._flows.get(state.id) is known[state.id]:  # no one moved it on meanwhile
                self._keep(state)

        def rule(state: FlowState, context: decide.Context) -> decide.Decision:
            return decide.on_takeover(state, context, dead)

        await asyncio.gather(*(self._trigger(flow_id, rule) for flow_id in flow_ids))
