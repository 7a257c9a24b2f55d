"""``RedisEventStore``: streams, the flow index, snapshots, leases, slots, memos and retention
on Redis.

One Lua script, called by SHA, checks an append's expected version against the
number of events its aggregate lists and writes the batch to the feed, the
aggregate's list of feed ids (``lua/events.lua``) and the flow index, atomically.
Removing an ended flow (retention) is one script per shard, then one on the memo
keys. Every command but the feed watchers'
blocking reads goes through the store's ``Pipeliner``, so any number of callers
needs a few connections; the appends of one shard in one pipeline are one
script call, each still checked and written on its own (group commit, as in
the SQLite store). Event data is encoded by ``argyll.codec``; the feed entry's
fields are described in ``argyll.store.redis.feed``.

A Redis error becomes a ``StoreError``; an append that fails that way may or may
not have been written (the reply was lost), so the caller reads before retrying.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import orjson
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import RedisError

from argyll.codec import decode_time, encode_time
from argyll.errors import StoreError, ValidationError, VersionConflict
from argyll.events import (
    Event,
    EventData,
    FlowDeactivated,
    FlowFailed,
    FlowStarted,
    flow_aggregate,
)
from argyll.flow_index import INDEXED_TYPES, IndexedData, index_change
from argyll.flow_query import FlowPage, FlowQuery, page_of, sort_key
from argyll.memo import Memo
from argyll.model import FlowID, FlowStatus, FlowSummary, StepID
from argyll.retention import expired
from argyll.store.base import ClosesOnExit, SlotAnswer, SlotHolder
from argyll.store.feed import Wanted
from argyll.store.redis.backfill import backfill_indexes
from argyll.store.redis.feed import (
    RedisFeed,
    encode_entry,
    entry_time,
    feed_event,
    format_id,
    parse_id,
)
from argyll.store.redis.guard import Guard
from argyll.store.redis.packing import pack_with_hiredis
from argyll.store.redis.pipeliner import Client, Pipeliner
from argyll.store.redis.scripts import (
    APPEND,
    HEARTBEAT,
    LIVE,
    MEMO_DROP_FLOWS,
    MEMO_FORGET,
    MEMO_GET,
    MEMO_PUT,
    READ_STREAM,
    REMOVE_FLOWS,
    SCRIPTS,
    SLOT_ACQUIRE,
    SLOT_LIST,
    SLOT_REAP,
    SLOT_RELEASE,
    VERSION,
)
from argyll.store.redis.settings import (
    CLUSTER_SHARDS,
    SERVER_SHARDS,
    Keys,
    RedisSettings,
    meta_key,
    redis_settings,
)

ITEM_SEPARATOR = "\x1f"
"""Between flow and token in a slot key's item (ids and tokens never hold it)."""
_ENDED_STATUSES = " ".join(status.value for status in FlowStatus if status.ended)
MAX_SCORE = 2**53
"""Beyond any creation time's score (microseconds since the epoch, exact in a double)."""
MIN_CHUNK, MAX_CHUNK = 64, 1000
"""Members of a sorted set a query reads at once: at least a page, growing up to the most."""


@dataclass(frozen=True, slots=True)
class _Append:
    """One append's part of its shard's script call: its event keys and its arguments."""

    keys: list[str]
    args: list[Any]
    """expected, aggregate, count, indexed, then the events' and index rows' fields"""
    joins: list[str]
    """The label and goal sets the rows it opens join."""


class RedisEventStore(ClosesOnExit):
    """Per-aggregate event lists, a sharded global feed and the flow index, on Redis.

    Make one with ``await RedisEventStore.open(url)``.
    """

    def __init__(self, url: str, client: Client, keys: Keys, memo_limit: int) -> None:
        self.url = url
        self.memo_limit = memo_limit
        self._client = client
        self._keys = keys
        self._guard = Guard(url)
        self._pipeliner = Pipeliner(client, SCRIPTS, self._append_command)
        cluster = isinstance(client, RedisCluster)
        self._feed = RedisFeed(self._guard, client, keys, self._pipeliner, cluster)

    @classmethod
    async def open(cls, url: str) -> RedisEventStore:
        settings = redis_settings(url)
        try:
            client = await _connect(settings)
        except RedisError as error:
            raise StoreError(f"{settings.shown_url}: cannot connect: {error}") from error
        try:
            keys = Keys(settings.prefix, await _shard_count(client, settings))
            store = cls(settings.shown_url, client, keys, settings.memo_limit)
            await store._pipeliner.load_scripts()
            await backfill_indexes(store._pipeliner, keys, store.read)
            await store.head()
        except RedisError as error:
            await client.aclose()
            raise StoreError(f"{settings.shown_url}: cannot open: {error}") from error
        except BaseException:
            await client.aclose()
            raise
        return store

    # ---------------------------------------------------------------- streams

    async def append(
        self, aggregate: str, expected: int, events: Sequence[EventData], timestamp: datetime
    ) -> list[Event]:
        shard = self._keys.shard(aggregate)
        stamp = encode_time(timestamp)
        indexed = [cast(IndexedData, data) for data in events if data.type in INDEXED_TYPES]
        args: list[Any] = [expected, aggregate, len(events), len(indexed)]
        moment = entry_time(timestamp)
        for data in events:
            args += (moment, *encode_entry(aggregate, data))
        joins: list[str] = []
        if indexed:
            args += self._index_args(shard, indexed, stamp, timestamp, joins)
        keys = self._keys.events(shard, aggregate)
        with self._guard.translating():
            appended, detail = await self._pipeliner.grouped(shard, _Append(keys, args, joins))
        if not appended:
            raise VersionConflict(aggregate, expected, int(detail))
        if not events:
            return []
        ms, seq = parse_id(detail)
        self._feed.observe((ms, seq + len(events) - 1))
        self._feed.changes.fire()
        return [
            Event(aggregate, expected + offset + 1, timestamp, data, f"{ms}-{seq + offset}-{shard}")
            for offset, data in enumerate(events)
        ]

    def _index_args(
        self,
        shard: int,
        indexed: list[IndexedData],
        stamp: str,
        timestamp: datetime,
        joins: list[str],
    ) -> list[Any]:
        """The script's index arguments, and into ``joins`` the sets opened rows join; a
        flow's row must live in the shard of ``flow:<id>``."""
        args: list[Any] = []
        for data in indexed:
            home = flow_aggregate(data.flow_id)
            if self._keys.shard(home) != shard:
                raise ValidationError(
                    [("events", f"{data.type} of flow {data.flow_id!r} belongs in {home!r}")]
                )
            error = data.error if isinstance(data, FlowFailed) else ""
            change, status = index_change(data)
            args += (change.value, status.value, data.flow_id, entry_time(timestamp), stamp, error)
            if isinstance(data, FlowStarted):
                parent = data.parent.flow_id if data.parent is not None else None
                sets = self._keys.row_sets(shard, data.labels, data.plan.goals, parent)
                args += (json.dumps(dict(data.labels)), json.dumps(list(data.plan.goals)))
                args += (parent or "", len(sets))
                joins += sets
            else:
                args += ("", "", "", 0)
        return args

    def _append_command(self, shard: int, batch: list[_Append]) -> tuple[Any, ...]:
        """One script call for the shard's appends in a pipeline, above this store's floor."""
        keys = [self._keys.feeds[shard], self._keys.clocks[shard], *self._keys.index(shard)]
        keys += (key for append in batch for key in append.keys)
        keys += (key for append in batch for key in append.joins)
        args = [format_id(self._feed.floor), len(FlowStatus), len(batch)]
        for append in batch:
            args += append.args
        return ("EVALSHA", APPEND.sha, len(keys), *keys, *args)

    async def read(self, aggregate: str, after: int = 0) -> list[Event]:
        shard = self._keys.shard(aggregate)
        keys = [*self._keys.events(shard, aggregate), self._keys.feeds[shard]]
        with self._guard.translating():
            entries = await self._pipeliner.script(READ_STREAM, keys, [max(after, 0)])
        if entries:
            self._feed.observe(parse_id(entries[-1][0]))
        return [feed_event(entry, shard) for entry in entries]

    async def read_many(self, after: Mapping[str, int]) -> dict[str, list[Event]]:
        """One read per aggregate, queued at once: the pipeliner sends them together."""
        names = list(after)
        found = await asyncio.gather(*(self.read(name, after[name]) for name in names))
        return {name: events for name, events in zip(names, found, strict=True) if events}

    async def version(self, aggregate: str) -> int:
        shard = self._keys.shard(aggregate)
        with self._guard.translating():
            version: int = await self._pipeliner.script(
                VERSION, self._keys.events(shard, aggregate), []
            )
        return version

    # ------------------------------------------------------------------- feed

    async def read_all(self, after: str = "", limit: int = 1000) -> list[Event]:
        position = self._feed.position(after)
        with self._guard.translating():
            if limit <= 0:
                return []
            return await self._feed.read(position, limit)

    def subscribe(
        self, after: str | None = None, wanted: Wanted | None = None
    ) -> AsyncIterator[Event]:
        """Follow the feed; ``None`` starts after the newest event this store has seen.

        Opening the store reads the head, so ``None`` means "from now on" for this
        process; what other processes append at the same moment may be included.
        """
        self._guard.check_open()
        if after is None:
            return self._feed.follow(self._feed.newest_seen(), wanted)
        return self._feed.follow(self._feed.position(after), wanted)

    async def head(self) -> str:
        """The newest event at or below a mark every shard has been raised to."""
        with self._guard.translating():
            return await self._feed.head()

    # ------------------------------------------------------------- flow index

    async def list_flows(
        self,
        status: FlowStatus | None = None,
        limit: int | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> list[FlowSummary]:
        """Newest first; flows created at the same moment come in descending id order.

        A label filter reads every row of the status and filters here; ``query_flows``
        reads a label's own set instead, a page at a time.
        """
        if labels:
            every = await self.list_flows(status)
            return [flow for flow in every if flow.has_labels(labels)][:limit]
        with self._guard.translating():
            if limit is not None and limit <= 0:
                return []
            shards = range(self._keys.shards)
            stop = -1 if limit is None else limit - 1
            replies = await asyncio.gather(
                *(
                    self._pipeliner.execute(
                        "ZREVRANGE", self._keys.flow_set(shard, status), 0, stop, "WITHSCORES"
                    )
                    for shard in shards
                )
            )
            newest = sorted(
                (
                    (float(score), member.decode(), shard)
                    for shard, pairs in zip(shards, replies, strict=True)
                    for member, score in zip(pairs[::2], pairs[1::2], strict=True)
                ),
                reverse=True,
            )[:limit]
            return await self._summaries([(flow_id, shard) for _, flow_id, shard in newest])

    async def _summaries(self, flows: list[tuple[str, int]]) -> list[FlowSummary]:
        by_shard: dict[int, list[str]] = {}
        for flow_id, shard in flows:
            by_shard.setdefault(shard, []).append(flow_id)
        replies = await asyncio.gather(
            *(
                self._pipeliner.execute("HMGET", self._keys.flows(shard), *flow_ids)
                for shard, flow_ids in by_shard.items()
            )
        )
        rows: dict[str, bytes] = {}
        for flow_ids, raws in zip(by_shard.values(), replies, strict=True):
            rows.update(zip(flow_ids, raws, strict=True))
        return [_summary(flow_id, rows[flow_id]) for flow_id, _ in flows]

    async def query_flows(self, query: FlowQuery) -> FlowPage:
        """Each shard's page from the narrowest sets (the fewest rows in all shards, by
        ZCARD), walked by creation time from the cursor and filtered here, then merged."""
        with self._guard.translating():
            sets = await self._narrowest(query)
            pages = await asyncio.gather(
                *(
                    self._matches(shard, key, query)
                    for shard in range(self._keys.shards)
                    for key in sets(shard)
                )
            )
        rows = sorted(itertools.chain(*pages), key=sort_key, reverse=query.newest_first)
        return page_of(query, rows)

    async def _narrowest(self, query: FlowQuery) -> Callable[[int], list[str]]:
        keys = self._keys
        choices: list[Callable[[int], list[str]]] = [
            *(_one(keys.label_set, *label) for label in query.labels.items()),
            *(_one(keys.goal_set, goal) for goal in query.goals),
            *([] if query.parent is None else [_one(keys.parent_set, query.parent)]),
        ]
        if query.statuses:
            statuses = sorted(query.statuses)
            choices.append(lambda shard: [keys.flow_set(shard, status) for status in statuses])
        if not choices:
            return lambda shard: [keys.flow_set(shard, None)]
        shards = range(keys.shards)
        sizes = await asyncio.gather(
            *(
                self._pipeliner.execute("ZCARD", key)
                for choice in choices
                for shard in shards
                for key in choice(shard)
            )
        )
        totals, at = [], 0
        for choice in choices:
            width = sum(len(choice(shard)) for shard in shards)
            totals.append(sum(sizes[at : at + width]))
            at += width
        return choices[totals.index(min(totals))]

    async def _matches(self, shard: int, key: str, query: FlowQuery) -> list[FlowSummary]:
        """Up to a page and one of the set's rows that match, in the query's order, read in
        chunks of growing size; a chunk starts after the last (score, member) read."""
        wanted, chunk = query.limit + 1, max(query.limit + 1, MIN_CHUNK)
        low, high = _score_range(query)
        skip, found = 0, []
        while len(found) < wanted and low <= high:
            bounds = (high, low) if query.newest_first else (low, high)
            command = "ZREVRANGEBYSCORE" if query.newest_first else "ZRANGEBYSCORE"
            reply = await self._pipeliner.execute(
                command, key, *bounds, "WITHSCORES", "LIMIT", skip, chunk
            )
            members = [member.decode() for member in reply[::2]]
            scores = [int(float(score)) for score in reply[1::2]]
            if not members:
                break
            raws = await self._pipeliner.execute("HMGET", self._keys.flows(shard), *members)
            for member, raw in zip(members, raws, strict=True):
                summary = None if raw is None else _summary(member, raw)
                if summary and query.beyond_cursor(sort_key(summary)) and query.matches(summary):
                    found.append(summary)
            if len(members) < chunk:
                break
            last = scores[-1]
            same = sum(1 for score in scores if score == last)
            skip = skip + same if last == (high if query.newest_first else low) else same
            low, high = (low, last) if query.newest_first else (last, high)
            chunk = min(2 * chunk, MAX_CHUNK)
        return found[:wanted]

    async def flow_counts(self) -> dict[FlowStatus, int]:
        statuses, shards = list(FlowStatus), range(self._keys.shards)
        with self._guard.translating():
            sizes = await asyncio.gather(
                *(
                    self._pipeliner.execute("ZCARD", self._keys.flow_set(shard, status))
                    for status in statuses
                    for shard in shards
                )
            )
        width = len(shards)
        return {
            status: sum(sizes[n * width : (n + 1) * width]) for n, status in enumerate(statuses)
        }

    async def flow_summary(self, flow_id: str) -> FlowSummary | None:
        shard = self._keys.shard(flow_aggregate(flow_id))
        with self._guard.translating():
            raw = await self._pipeliner.execute("HGET", self._keys.flows(shard), flow_id)
        return None if raw is None else _summary(flow_id, raw)

    # -------------------------------------------------------------- snapshots

    async def save_snapshot(self, aggregate: str, version: int, state: Mapping[str, Any]) -> None:
        key = self._keys.snapshot(self._keys.shard(aggregate), aggregate)
        with self._guard.translating():
            await self._pipeliner.execute(
                "SET", key, json.dumps({"version": version, "state": state})
            )

    async def load_snapshot(self, aggregate: str) -> tuple[int, dict[str, Any]] | None:
        key = self._keys.snapshot(self._keys.shard(aggregate), aggregate)
        with self._guard.translating():
            raw = await self._pipeliner.execute("GET", key)
        if raw is None:
            return None
        saved = json.loads(raw)
        return saved["version"], saved["state"]

    async def load_snapshots(
        self, aggregates: Sequence[str]
    ) -> dict[str, tuple[int, dict[str, Any]]]:
        """One GET per aggregate, queued at once (each may live on another shard)."""
        found = await asyncio.gather(*(self.load_snapshot(name) for name in aggregates))
        return {name: saved for name, saved in zip(aggregates, found, strict=True) if saved}

    # ----------------------------------------------------------------- leases

    async def heartbeat(self, instance: str, ttl: float) -> None:
        with self._guard.translating():
            await self._pipeliner.script(
                HEARTBEAT, [self._keys.instances], [instance, round(ttl * 1000)]
            )

    async def live_instances(self) -> set[str]:
        with self._guard.translating():
            names = await self._pipeliner.script(LIVE, [self._keys.instances], [])
        return {name.decode() for name in names}

    async def retire(self, instance: str) -> None:
        with self._guard.translating():
            await self._pipeliner.execute("ZREM", self._keys.instances, instance)

    # ------------------------------------------------------------------ slots

    async def acquire_slot(self, holder: SlotHolder, limit: int, join: bool = True) -> SlotAnswer:
        keys = self._keys.step_slots(holder.step_id)
        keys += (self._keys.slot_steps, self._keys.slot_arrivals)
        args = [_item(holder), holder.instance, limit, int(join), holder.step_id]
        with self._guard.translating():
            answer = await self._pipeliner.script(SLOT_ACQUIRE, keys, args)
        return SlotAnswer(answer.decode())

    async def release_slot(self, holder: SlotHolder, limit: int) -> list[SlotHolder]:
        keys = self._keys.step_slots(holder.step_id)
        with self._guard.translating():
            pairs = await self._pipeliner.script(SLOT_RELEASE, keys, [_item(holder), limit])
        return _holders(holder.step_id, pairs)

    async def slot_holders(self, step_id: str) -> list[SlotHolder]:
        return sorted(await self._slots(step_id, held=True), key=lambda h: (h.flow_id, h.token))

    async def slot_waiters(self, step_id: str) -> list[SlotHolder]:
        return await self._slots(step_id, held=False)

    async def _slots(self, step_id: str, held: bool) -> list[SlotHolder]:
        keys = self._keys.step_slots(step_id)
        with self._guard.translating():
            pairs = await self._pipeliner.script(SLOT_LIST, keys, [int(held)])
        return _holders(step_id, pairs)

    async def reap_slots(self) -> int:
        keys = [self._keys.instances, self._keys.slot_steps]
        with self._guard.translating():
            freed: int = await self._pipeliner.script(SLOT_REAP, keys, [self._keys.slots])
        return freed

    # ------------------------------------------------------------------ memos

    async def memo_get(self, key: str) -> Memo | None:
        keys = [self._keys.memo_tables[0], self._keys.memo_tables[2], self._keys.memo_clock]
        with self._guard.translating():
            raw = await self._pipeliner.script(MEMO_GET, keys, [key])
        if raw is None:
            return None
        entry = json.loads(raw)
        created_at = decode_time(entry["created_at"])
        return Memo(
            StepID(entry["step_id"]), entry["outputs"], entry["flow_id"], entry["seq"], created_at
        )

    async def memo_put(self, key: str, memo: Memo) -> None:
        keys = [*self._keys.memo_tables, self._keys.memo_clock, self._keys.memo_step(memo.step_id)]
        entry = {
            "step_id": memo.step_id,
            "outputs": memo.outputs,
            "flow_id": memo.flow_id,
            "seq": memo.seq,
            "created_at": encode_time(memo.created_at),
        }
        args = [key, json.dumps(entry), memo.step_id, self.memo_limit, self._keys.memo_steps]
        args += (self._keys.memo_flows, memo.flow_id)
        with self._guard.translating():
            await self._pipeliner.script(MEMO_PUT, keys, args)

    async def memo_forget(self, step_id: str) -> int:
        keys = [*self._keys.memo_tables, self._keys.memo_step(step_id)]
        with self._guard.translating():
            dropped: int = await self._pipeliner.script(MEMO_FORGET, keys, [self._keys.memo_flows])
        return dropped

    # -------------------------------------------------------------- retention

    async def ended_flows(self, before: datetime, limit: int) -> list[FlowSummary]:
        """The earliest-created first, shard by shard: rows created before ``before`` are read
        a page at a time from each ended status's set and kept if they ended before it too."""
        found: list[FlowSummary] = []
        with self._guard.translating():
            for shard in range(self._keys.shards):
                for status in FlowStatus:
                    if status.ended and len(found) < limit:
                        found += await self._ended_in(shard, status, before, limit - len(found))
        return found

    async def _ended_in(
        self, shard: int, status: FlowStatus, before: datetime, limit: int
    ) -> list[FlowSummary]:
        found: list[FlowSummary] = []
        key, offset = self._keys.flow_set(shard, status), 0
        while len(found) < limit:
            members = await self._pipeliner.execute(
                "ZRANGEBYSCORE", key, "-inf", f"({entry_time(before)}", "LIMIT", offset, limit
            )
            if not members:
                break
            offset += len(members)
            rows = await self._pipeliner.execute("HMGET", self._keys.flows(shard), *members)
            summaries = [
                _summary(member.decode(), row)
                for member, row in zip(members, rows, strict=True)
                if row is not None  # None: just removed
            ]
            candidates = [summary for summary in summaries if expired(summary, before)]
            settled = await asyncio.gather(*(self._deactivated(it.id) for it in candidates))
            found += (it for it, done in zip(candidates, settled, strict=True) if done)
        return found[:limit]

    async def _deactivated(self, flow_id: str) -> bool:
        """Whether the flow's last event is its deactivation: no compensation still runs."""
        aggregate = flow_aggregate(flow_id)
        last = await self.read(aggregate, after=await self.version(aggregate) - 1)
        return bool(last) and isinstance(last[-1].data, FlowDeactivated)

    async def remove_flows(self, flow_ids: Sequence[str], before: datetime) -> list[str]:
        """One script call per shard, then one that drops the removed flows' memo entries."""
        by_shard: dict[int, list[str]] = {}
        for flow_id in dict.fromkeys(flow_ids):
            by_shard.setdefault(self._keys.shard(flow_aggregate(flow_id)), []).append(flow_id)
        stamp = encode_time(before.astimezone(UTC) if before.tzinfo else before)
        with self._guard.translating():
            replies = await asyncio.gather(
                *(self._remove_in(shard, flows, stamp) for shard, flows in by_shard.items())
            )
            removed = [flow_id.decode() for reply in replies for flow_id in reply]
            if removed:
                keys = self._keys.memo_tables
                args = [self._keys.memo_steps, self._keys.memo_flows, *removed]
                await self._pipeliner.script(MEMO_DROP_FLOWS, keys, args)
        return removed

    async def _remove_in(self, shard: int, flow_ids: list[str], stamp: str) -> list[bytes]:
        """One script call for the shard's flows, with the label, goal and parent sets each
        row is in (read first: a row's sets never change once it is opened)."""
        rows = await self._pipeliner.execute("HMGET", self._keys.flows(shard), *flow_ids)
        keys = [self._keys.feeds[shard], *self._keys.index(shard)]
        args: list[Any] = [len(FlowStatus), stamp, _ENDED_STATUSES]
        for flow_id, raw in zip(flow_ids, rows, strict=True):
            if raw is None:
                continue
            summary, aggregate = _summary(flow_id, raw), flow_aggregate(flow_id)
            sets = self._keys.row_sets(shard, summary.labels, summary.goals, summary.parent)
            keys += (*self._keys.events(shard, aggregate), self._keys.snapshot(shard, aggregate))
            keys += sets
            args += (flow_id, len(sets))
        if len(args) == 3:
            return []
        removed: list[bytes] = await self._pipeliner.script(REMOVE_FLOWS, keys, args)
        return removed

    # -------------------------------------------------------------- lifecycle

    async def aclose(self) -> None:
        """Send the commands already accepted, end every subscription, disconnect."""
        if self._guard.closed:
            return
        self._guard.closed = True
        self._feed.changes.fire()
        await self._pipeliner.drain()
        await self._feed.stop_watching()
        await self._client.aclose()


def _item(holder: SlotHolder) -> str:
    return f"{holder.flow_id}{ITEM_SEPARATOR}{holder.token}"


def _holders(step_id: str, pairs: list[bytes]) -> list[SlotHolder]:
    """Holders from a slot script's reply: item, instance, item, instance, ..."""
    holders = []
    for item, instance in zip(pairs[::2], pairs[1::2], strict=True):
        flow_id, _, token = item.decode().partition(ITEM_SEPARATOR)
        holders.append(SlotHolder(instance.decode(), flow_id, step_id, token))
    return holders


def _one(make: Callable[..., str], *parts: str) -> Callable[[int], list[str]]:
    return lambda shard: [make(shard, *parts)]


def _score_range(query: FlowQuery) -> tuple[int, int]:
    """The scores (creation microseconds, inclusive) the query's rows can have: its time
    range, cut at its cursor (whose own score may still hold rows past it, by id)."""
    low = -MAX_SCORE if query.created_after is None else entry_time(query.created_after) + 1
    high = MAX_SCORE if query.created_before is None else entry_time(query.created_before) - 1
    if query.after is not None:
        cursor = entry_time(query.after.created_at)
        low, high = (low, min(high, cursor)) if query.newest_first else (max(low, cursor), high)
    return low, high


def _summary(flow_id: str, raw: bytes) -> FlowSummary:
    """A flow-list row, parsed by orjson (8.5 µs, not 22: a query walks hundreds); a row
    holds only strings and null, so orjson's floats for integers past 64 bits never arise."""
    row = orjson.loads(raw)
    completed = row.get("completed")
    return FlowSummary(
        FlowID(flow_id),
        FlowStatus(row["status"]),
        decode_time(row["created"]),
        None if completed is None else decode_time(completed),
        row.get("error"),
        orjson.loads(row.get("labels") or "{}"),
        row.get("parent"),
        tuple(orjson.loads(row.get("goals") or "[]")),
    )


async def _connect(settings: RedisSettings) -> Client:
    """A client for the URL: a cluster client if it names a cluster or reaches a cluster node."""
    options: dict[str, Any] = {
        "protocol": 2,
        # One quick retry replaces a pooled connection the server dropped (a restart);
        # anything longer is the caller's to retry.
        "retry": Retry(ExponentialBackoff(cap=0.2, base=0.02), 1),
    }
    if not settings.cluster:
        client = Redis.from_url(settings.client_url, **options)
        pack_with_hiredis(client)
        try:
            info = await client.info("cluster")
        except BaseException:
            await client.aclose()
            raise
        if not info.get("cluster_enabled"):
            return client
        await client.aclose()
    return RedisCluster.from_url(settings.client_url, **options)


async def _shard_count(client: Client, settings: RedisSettings) -> int:
    """The shard count stored with the keys, set from the URL (or the default) at first use."""
    meta = meta_key(settings.prefix)
    default = CLUSTER_SHARDS if isinstance(client, RedisCluster) else SERVER_SHARDS
    await client.hsetnx(meta, "shards", settings.shards or default)
    stored = int(cast(bytes, await client.hget(meta, "shards")))
    if settings.shards is not None and settings.shards != stored:
        raise ValidationError(
            [
                (
                    "store",
                    f"{settings.shown_url}: the keys under {settings.prefix!r} have "
                    f"shards={stored}; it cannot change to {settings.shards}",
                )
            ]
        )
    return stored
