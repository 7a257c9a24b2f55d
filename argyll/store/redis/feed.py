"""The sharded global feed on Redis: positions, merged reads, the head, subscriptions.

Order: an event's feed id is at least the server's clock in ms and above every
id the appending store has seen (its ``floor``), so within a shard the feed is in
append order and across shards an append lands after everything its writer has
read or written. A position is ``<ms>-<seq>-<shard>``: the feed is the merge of
the shards by (id, shard). A reader first raises every shard's ``clock`` to a
common mark and reads only up to it; later appends land above the mark, so a
position never has an event slip in before it. With one shard (a single server)
this is simply the order of one stream.

Subscribers wake on this store's own appends at once and on other processes'
through watchers: one blocking XREAD per cluster slot (per server otherwise) on
a connection of its own. ``POLL_INTERVAL`` is only a backstop. Subscriptions
ride out an outage and resume from their position.

A feed entry's fields are ``a`` aggregate, ``n`` seq, ``t`` type, ``ts``
timestamp, ``d`` data and ``v`` the data's schema version (``argyll.codec``);
entries written before events carried versions have no ``v`` and decode as 1.
Compact since 2026-12: ``ts`` is microseconds since the epoch (UTC), an integer
Redis keeps in 9 bytes, and a flow event's ``d`` leaves out its ``flow_id``, which
``a`` already says (``implied_fields``). Entries written before, with ISO-8601
text and the id in ``d``, read as they are.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.exceptions import RedisError
from redis.typing import KeyT, StreamIdT

from argyll import codec
from argyll.codec import Encoded, decode_time, encode_without
from argyll.errors import StoreError, ValidationError
from argyll.events import FLOW_PREFIX, Event, EventData
from argyll.store.feed import ChangeSignal, Wanted
from argyll.store.redis.guard import Guard
from argyll.store.redis.pipeliner import Client, Pipeliner
from argyll.store.redis.scripts import HEAD, READ_FEED
from argyll.store.redis.settings import Keys

log = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
FEED_BATCH = 500
POLL_INTERVAL = 1.0
"""Seconds a subscriber waits for a wake-up before looking at the feed anyway."""
WATCH_BLOCK_MS = 1000
WATCH_COALESCE = 0.002
"""Seconds the watcher rests after a wake-up, so a burst of appends wakes subscribers once."""
RETRY_CAP = 1.0
"""Longest pause, in seconds, between a subscription's attempts while Redis is away."""

StreamID = tuple[int, int]
Position = tuple[int, int, int]
"""(ms, seq, shard): a feed entry's stream id and its shard."""


def parse_id(raw: bytes | str) -> StreamID:
    text = raw.decode() if isinstance(raw, bytes) else raw
    ms, _, seq = text.partition("-")
    return int(ms), int(seq)


def format_id(stream_id: StreamID) -> str:
    return f"{stream_id[0]}-{stream_id[1]}"


def implied_fields(aggregate: str) -> dict[str, str]:
    """The data fields an entry of ``aggregate`` is stored without: a flow's id."""
    if aggregate.startswith(FLOW_PREFIX):
        return {"flow_id": aggregate.removeprefix(FLOW_PREFIX)}
    return {}


def encode_entry(aggregate: str, data: EventData) -> Encoded:
    """An event's type, version and data as a feed entry of ``aggregate`` keeps them."""
    return encode_without(data, implied_fields(aggregate))


def entry_time(moment: datetime) -> int:
    """A feed entry's ``ts``: microseconds since the epoch, exactly (a naive time is UTC)."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return (aware - EPOCH) // MICROSECOND


def feed_event(entry: list[Any], shard: int) -> Event:
    """The event a feed entry holds (fields: a, aggregate, n, seq, t, type, ts, time, d, data,
    then v, version when it was written with one)."""
    entry_id, fields = entry
    version = int(fields[11]) if len(fields) > 10 else None
    aggregate = fields[1].decode()
    stamp = fields[7].decode()
    return Event(
        aggregate,
        int(fields[3]),
        EPOCH + int(stamp) * MICROSECOND if stamp.isdigit() else decode_time(stamp),
        codec.decode(fields[5].decode(), version, fields[9], implied_fields(aggregate)),
        f"{entry_id.decode()}-{shard}",
    )


def _start(after: Position | None, shard: int) -> str:
    """Where a shard's part of the feed starts after ``after`` (entries ordered by id, shard)."""
    if after is None:
        return "-"
    ms, seq, last_shard = after
    return f"({ms}-{seq}" if shard <= last_shard else f"{ms}-{seq}"


@dataclass(slots=True)
class _Page:
    """A shard's part of a feed read: its entries, all at or below ``mark``."""

    mark: StreamID
    entries: list[Any]


class RedisFeed:
    """The store's view of the feed: its ``floor``, merged reads, and its subscriptions."""

    def __init__(
        self, guard: Guard, client: Client, keys: Keys, pipeliner: Pipeliner, cluster: bool
    ) -> None:
        self._guard = guard
        self._client = client
        self._keys = keys
        self._pipeliner = pipeliner
        self._cluster = cluster
        self.floor: StreamID = (0, 0)
        """The highest feed id this store has seen: its next append lands above it."""
        self.changes = ChangeSignal()
        self._watchers: list[asyncio.Task[None]] = []

    def observe(self, seen: StreamID) -> None:
        """Remember the highest feed id seen, so this store's next append lands above it."""
        if seen > self.floor:
            self.floor = seen

    def position(self, position: str) -> Position | None:
        """The position a string names; "" is the start (None)."""
        if position == "":
            return None
        parts = position.split("-")
        if len(parts) == 3 and all(part.isascii() and part.isdecimal() for part in parts):
            ms, seq, shard = (int(part) for part in parts)
            if shard < self._keys.shards:
                return ms, seq, shard
        raise ValidationError([("after", f"{position!r} is not a position of this store")])

    def newest_seen(self) -> Position:
        """The position just after everything this store has seen, on every shard."""
        return (*self.floor, self._keys.shards - 1)

    async def head(self) -> str:
        """The newest event at or below a mark every shard has been raised to."""
        shards = range(self._keys.shards)
        heads = await self._heads(shards, self.floor, None)
        highest = max(mark for mark, _ in heads.values())
        lagging = [shard for shard, (mark, _) in heads.items() if mark < highest]
        if lagging:
            heads.update(await self._heads(lagging, highest, highest))
        self.observe(highest)
        newest = max(((last, shard) for shard, (_, last) in heads.items() if last), default=None)
        return "" if newest is None else f"{format_id(newest[0])}-{newest[1]}"

    async def _heads(
        self, shards: Sequence[int], fence: StreamID, bound: StreamID | None
    ) -> dict[int, tuple[StreamID, StreamID | None]]:
        """Each shard's mark after raising it to ``fence``, and its last id up to ``bound``."""
        args = [format_id(fence), "" if bound is None else format_id(bound)]
        replies = await asyncio.gather(
            *(
                self._pipeliner.script(
                    HEAD, [self._keys.feeds[shard], self._keys.clocks[shard]], args
                )
                for shard in shards
            )
        )
        return {
            shard: (parse_id(mark), parse_id(last) if last else None)
            for shard, (mark, last) in zip(shards, replies, strict=True)
        }

    async def read(self, after: Position | None, limit: int) -> list[Event]:
        """Up to ``limit`` feed events after ``after``, merged from the shards in (id, shard)
        order."""
        entries = await self._entries(after, limit)
        return [feed_event(entry, position[2]) for position, entry in entries]

    async def _entries(self, after: Position | None, limit: int) -> list[tuple[Position, Any]]:
        """Up to ``limit`` feed entries after ``after`` (not decoded), in (id, shard) order.

        Only events at or below the lowest mark are final; when a shard returns some above it,
        a second round raises the lagging shards to the highest mark and reads their rest.
        """
        if after is not None:
            self.observe(after[:2])  # every shard's mark must reach it: round two starts there
        starts = {shard: _start(after, shard) for shard in range(self._keys.shards)}
        pages = await self._pages(starts, self.floor, limit)
        stable = min(page.mark for page in pages.values())
        highest = max(page.mark for page in pages.values())
        if stable < highest and any(
            parse_id(entry[0]) > stable for page in pages.values() for entry in page.entries
        ):
            lagging = {
                shard: "+" if len(page.entries) >= limit else f"({format_id(page.mark)}"
                for shard, page in pages.items()
                if page.mark < highest
            }
            for shard, page in (await self._pages(lagging, highest, limit)).items():
                pages[shard].entries += page.entries
            stable = highest
        self.observe(highest)
        found = [
            ((*parse_id(entry[0]), shard), entry)
            for shard, page in pages.items()
            for entry in page.entries
        ]
        final = sorted((item for item in found if item[0][:2] <= stable), key=lambda item: item[0])
        return final[:limit]

    async def _pages(self, starts: dict[int, str], fence: StreamID, limit: int) -> dict[int, _Page]:
        replies = await asyncio.gather(
            *(
                self._pipeliner.script(
                    READ_FEED,
                    [self._keys.feeds[shard], self._keys.clocks[shard]],
                    [start, format_id(fence), limit],
                )
                for shard, start in starts.items()
            )
        )
        return {
            shard: _Page(parse_id(mark), list(entries))
            for shard, (mark, entries) in zip(starts, replies, strict=True)
        }

    async def follow(
        self, position: Position | None, wanted: Wanted | None = None
    ) -> AsyncIterator[Event]:
        """The feed after ``position``, then live, until the store closes; with ``wanted``,
        only the entries it wants are decoded (asked with the raw aggregate and type)."""
        want = wanted or _everything
        self._watch()
        pause = 0.0
        while not self._guard.closed:
            changed = self.changes.waiter()
            try:
                with self._guard.translating():
                    batch = await self._entries(position, FEED_BATCH)
            except StoreError as error:
                if self._guard.closed:
                    return
                pause = min(2 * pause or 0.05, RETRY_CAP)
                log.warning("%s; reading the feed again in %.2f s", error, pause)
                await _wait(changed, pause)
                continue
            pause = 0.0
            for entry_position, (entry_id, fields) in batch:
                if self._guard.closed:
                    return
                if want(fields[1].decode(), fields[5].decode()):
                    yield feed_event((entry_id, fields), entry_position[2])
            if batch:
                position = batch[-1][0]
            else:
                await _wait(changed, POLL_INTERVAL)

    def _watch(self) -> None:
        """Start waking subscribers on other processes' appends (one XREAD per slot)."""
        if self._watchers:
            return
        feeds = self._keys.feeds
        groups = [[feed] for feed in feeds] if self._cluster else [feeds]
        loop = asyncio.get_running_loop()
        self._watchers = [loop.create_task(self._watch_feeds(group)) for group in groups]

    async def _watch_feeds(self, feeds: list[str]) -> None:
        """XREAD BLOCK on the feeds (a connection of its own); new entries wake subscribers."""
        pause = 0.0
        while not self._guard.closed:
            try:
                last = await self._last_ids(feeds)
                self.changes.fire()  # whatever came before the first XREAD
                pause = 0.0
                while not self._guard.closed:
                    reply: Any = await self._client.xread(last, count=1, block=WATCH_BLOCK_MS)
                    if reply:
                        last.update(await self._last_ids([name.decode() for name, _ in reply]))
                        self.changes.fire()
                        await asyncio.sleep(WATCH_COALESCE)
            except RedisError as error:
                pause = min(2 * pause or 0.05, RETRY_CAP)
                log.debug("%s: watching the feed: %s", self._guard.url, error)
                await asyncio.sleep(pause)

    async def _last_ids(self, feeds: list[str]) -> dict[KeyT, StreamIdT]:
        newest = await asyncio.gather(
            *(self._pipeliner.execute("XREVRANGE", feed, "+", "-", "COUNT", 1) for feed in feeds)
        )
        return {
            feed: entries[0][0] if entries else "0-0"
            for feed, entries in zip(feeds, newest, strict=True)
        }

    async def stop_watching(self) -> None:
        """End the watchers (the store is closed: they would not start another XREAD)."""
        while watching := [watcher for watcher in self._watchers if not watcher.done()]:
            # Again until done: on Python 3.11 the asyncio.wait_for redis-py puts around a
            # send can swallow a cancel that lands as the send completes.
            for watcher in watching:
                watcher.cancel()
            await asyncio.wait(watching, timeout=0.05)


def _everything(aggregate: str, event_type: str) -> bool:
    return True


async def _wait(changed: asyncio.Event, timeout: float) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            await changed.wait()
