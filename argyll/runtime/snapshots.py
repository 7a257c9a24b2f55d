"""Snapshots of long flows: when one is due, saving it, and reading a flow through it.

A snapshot is an optimisation, never the record: the events are. So a snapshot
that fails to save is only logged, and a flow without one is folded from its
first event.
"""

from __future__ import annotations

import logging

from argyll.apply import FLOW_APPLIERS, fold, fold_flow
from argyll.errors import ArgyllError, NotFoundError
from argyll.events import flow_aggregate
from argyll.model import FlowState, flow_state_from_dict
from argyll.store import EventStore

log = logging.getLogger("argyll.engine")

SNAPSHOT_EVERY = 100
"""Events between snapshots of a flow's state (a short flow never needs one)."""


def snapshot_due(before: int, after: int) -> bool:
    """Whether going from version ``before`` to ``after`` crossed a multiple of SNAPSHOT_EVERY."""
    return after // SNAPSHOT_EVERY > before // SNAPSHOT_EVERY


async def save_snapshot(store: EventStore, state: FlowState) -> None:
    """Save a long flow's state, so reading it later folds only what came after."""
    try:
        await store.save_snapshot(flow_aggregate(state.id), state.version, state.to_dict())
    except ArgyllError as error:
        log.warning("snapshot of flow %s not saved: %s", state.id, error)


async def read_flow(store: EventStore, flow_id: str) -> FlowState:
    """A flow's state from the store: its snapshot and the events after it, or all its events."""
    aggregate = flow_aggregate(flow_id)
    snapshot = await store.load_snapshot(aggregate)
    if snapshot is not None:
        version, data = snapshot
        newer = await store.read(aggregate, after=version)
        return fold(flow_state_from_dict(data, version), newer, FLOW_APPLIERS)
    events = await store.read(aggregate)
    if not events:
        raise NotFoundError("flow", flow_id)
    return fold_flow(events)
