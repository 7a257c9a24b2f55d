"""Recovery at start-up: every running flow read back from the store, a batch at a time.

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

import contextlib
import gc
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence

from argyll.apply import FLOW_APPLIERS, fold, fold_flow
from argyll.events import flow_aggregate
from argyll.model import FlowID, FlowState, FlowStatus, flow_state_from_dict
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
