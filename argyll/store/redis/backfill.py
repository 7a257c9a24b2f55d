"""Rows written before the label, goal and parent sets existed join them, once per prefix.

Before those sets (``settings``), a flow's index row held no ``goals`` and joined
only ``flows:all`` and its status's set, so a query by label or goal, which reads
those sets, missed it. Opening the store runs this until the marker
``indexes`` in the meta hash says it is done for the prefix: each shard's rows are
walked with ``HSCAN`` a batch at a time; a row without ``goals`` takes its labels,
goals and parent from its flow's ``flow_started`` (the row's own fields if that
event is gone) and joins their sets in one script call per batch (``lua/backfill.lua``).

One process at a time does it, holding a lease renewed after every batch; another
process opening meanwhile waits for the marker, or takes the lease over if its
holder stopped renewing it. The script leaves rows that have ``goals`` alone, so a
batch done twice (a lease lost mid-way) changes nothing.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from argyll.errors import StoreError
from argyll.events import Event, FlowStarted, flow_aggregate
from argyll.store.redis.pipeliner import Pipeliner
from argyll.store.redis.scripts import BACKFILL, LEASE
from argyll.store.redis.settings import Keys

INDEXES = 1
"""The version of the query sets; the meta hash's ``indexes`` field says the rows have it."""
BATCH = 500
"""Rows asked of ``HSCAN`` at once (a hint: a small hash comes whole)."""
LEASE_MS = 30_000
"""How long the lease lasts unrenewed: far longer than a batch takes."""
WAIT = 0.1
"""Seconds between looks at the marker while another process backfills."""

_OPENED = b'"goals":'
"""In a row of this version: its labels are a JSON text within it, whose quotes are escaped,
so only the row's own ``goals`` key reads so (and a row is decoded only when it is old)."""

Read = Callable[[str], Awaitable[list[Event]]]
"""An aggregate's events (the store's ``read``)."""


async def backfill_indexes(pipeliner: Pipeliner, keys: Keys, read: Read) -> None:
    """Return once every row of the prefix is in its query sets."""
    holder = uuid.uuid4().hex
    while not await _done(pipeliner, keys):
        if await _lease(pipeliner, keys, holder, LEASE_MS):
            try:
                for shard in range(keys.shards):
                    await _backfill_shard(pipeliner, keys, shard, read, holder)
                await pipeliner.execute("HSET", keys.meta, "indexes", INDEXES)
            finally:
                await _lease(pipeliner, keys, holder, 0)
        else:
            await asyncio.sleep(WAIT)  # another process is at it: look again


async def _done(pipeliner: Pipeliner, keys: Keys) -> bool:
    marker = await pipeliner.execute("HGET", keys.meta, "indexes")
    return marker is not None and int(marker) >= INDEXES


async def _lease(pipeliner: Pipeliner, keys: Keys, holder: str, ms: int) -> bool:
    return bool(await pipeliner.script(LEASE, [keys.backfill_lease], [holder, ms]))


async def _backfill_shard(
    pipeliner: Pipeliner, keys: Keys, shard: int, read: Read, holder: str
) -> None:
    cursor = 0
    while True:  # redis-py answers HSCAN with (cursor, {field: value})
        cursor, rows = await pipeliner.execute("HSCAN", keys.flows(shard), cursor, "COUNT", BATCH)
        old = {field.decode(): json.loads(raw) for field, raw in rows.items() if _OPENED not in raw}
        if old:
            await _fill(pipeliner, keys, shard, old, read)
        if cursor == 0:
            return
        if not await _lease(pipeliner, keys, holder, LEASE_MS):
            raise StoreError("another process took over the index backfill's lease")


async def _fill(
    pipeliner: Pipeliner, keys: Keys, shard: int, old: dict[str, dict[str, Any]], read: Read
) -> None:
    """One script call: each old row's fields, and the sets they make it join."""
    starts = await asyncio.gather(*(read(flow_aggregate(flow_id)) for flow_id in old))
    script_keys, args = [keys.flows(shard)], [len(old)]
    for (flow_id, row), events in zip(old.items(), starts, strict=True):
        labels, goals, parent = _fields(row, events)
        sets = keys.row_sets(shard, labels, goals, parent)
        script_keys += sets
        args += (flow_id, json.dumps(labels), json.dumps(goals), parent or "", len(sets))
    await pipeliner.script(BACKFILL, script_keys, args)


def _fields(row: dict[str, Any], events: list[Event]) -> tuple[dict[str, str], list[str], Any]:
    """Labels, goals and parent from the flow's start, else from what the row holds."""
    if events and isinstance(start := events[0].data, FlowStarted):
        parent = None if start.parent is None else start.parent.flow_id
        return dict(start.labels), list(start.plan.goals), parent
    return json.loads(row.get("labels") or "{}"), [], row.get("parent")
