"""A shared event store on Redis (``redis://``) for any number of engine instances.

URLs: ``redis://[user:password@]host:port/db`` (``rediss://`` for TLS) names one
server; ``redis+cluster://host:port`` (``rediss+cluster://``) a Redis Cluster. A
plain ``redis://`` URL that reaches a cluster node is detected and works the same.
Query options: ``prefix`` (default ``argyll:``) starts every key name; ``shards``
is how many shards the keys are spread over (default 1 on one server, 16 on a
cluster; fixed when the keys are first made); the rest (``socket_timeout``,
``max_connections``, ...) is handed to redis-py.

Keys of shard k all carry the hash tag ``{sk}``, so a shard lives in one cluster
slot and one Lua script can touch all of it::

    <prefix>{sk}:feed                 stream: the shard's part of the global feed (the events)
    <prefix>{sk}:clock                the id every later feed entry of the shard must exceed
    <prefix>{sk}:stream:<aggregate>   stream: entry 0-<seq> holds the event's feed id
    <prefix>{sk}:flows                hash: flow id -> its index row (JSON)
    <prefix>{sk}:flows:<set>          sorted sets all/active/completed/failed, by creation time
    <prefix>{s0}:meta, <prefix>{s0}:instances

An aggregate belongs to shard ``crc32(name) % shards``; a flow's index row lives
in the shard of ``flow:<id>`` (so a flow's start, end and index row share a slot).
One Lua script, called by SHA, checks an append's expected version against the
stream's length and writes the batch to the feed, the aggregate stream and the
flow index, atomically.

Order: an event's feed id is at least the server's clock in ms and above every
id the appending store has seen (its ``floor``), so within a shard the feed is in
append order and across shards an append lands after everything its writer has
read or written. A position is ``<ms>-<seq>-<shard>``: the feed is the merge of
the shards by (id, shard). A reader first raises every shard's ``clock`` to a
common mark and reads only up to it; later appends land above the mark, so a
position never has an event slip in before it. With one shard (a single server)
this is simply the order of one stream.

Auto-pipelining: the commands every task issues in one event-loop turn (appends,
reads) go out as one pipeline, and the appends of one shard as one script call;
each append in it is still checked and written on its own, and fails alone (group
commit, as in the SQLite store). Only the subscription watchers' blocking XREADs
hold connections of their own, so any number of callers needs a few connections.

A Redis error becomes a ``StoreError``; an append that fails that way may or may
not have been written (the reply was lost), so the caller reads before retrying.
Subscriptions ride out an outage and resume from their position.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import zlib
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import hiredis
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import AbstractConnection, Connection, SSLConnection
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import NoScriptError, RedisError
from redis.typing import KeyT, StreamIdT

from argyll.errors import StoreError, ValidationError, VersionConflict
from argyll.events import (
    Event,
    EventData,
    FlowCompleted,
    FlowFailed,
    FlowStarted,
    decode_data,
    flow_aggregate,
    parse_time,
)
from argyll.model import FlowID, FlowStatus, FlowSummary
from argyll.store.base import INDEXED_TYPES, ClosesOnExit
from argyll.store.memory import ChangeSignal, IndexedData

log = logging.getLogger(__name__)

DEFAULT_PREFIX = "argyll:"
SERVER_SHARDS = 1
CLUSTER_SHARDS = 16
MAX_SHARDS = 1024
MAX_GROUP = 1000
"""Commands (appends included) sent in one pipeline at most."""
MAX_IN_FLIGHT = 2
"""Pipelines on the wire at once, so reads queued behind a large group need not wait for it."""
FEED_BATCH = 500
POLL_INTERVAL = 1.0
"""Seconds a subscriber waits for a wake-up before looking at the feed anyway."""
WATCH_BLOCK_MS = 1000
WATCH_COALESCE = 0.002
"""Seconds the watcher rests after a wake-up, so a burst of appends wakes subscribers once."""
RETRY_CAP = 1.0
"""Longest pause, in seconds, between a subscription's attempts while Redis is away."""

Client = Redis | RedisCluster
StreamID = tuple[int, int]
Position = tuple[int, int, int]
"""(ms, seq, shard): a feed entry's stream id and its shard."""

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
_INDEX_STATUS = {
    FlowStarted.type: FlowStatus.ACTIVE,
    FlowCompleted.type: FlowStatus.COMPLETED,
    FlowFailed.type: FlowStatus.FAILED,
}
_SCHEMES = {
    "redis": ("redis", False),
    "rediss": ("rediss", False),
    "redis+cluster": ("redis", True),
    "rediss+cluster": ("rediss", True),
}
SCHEMES = tuple(_SCHEMES)

# --------------------------------------------------------------- Lua scripts

_LUA_IDS = """
local function parse(id)
  local dash = string.find(id, '-', 1, true)
  return tonumber(string.sub(id, 1, dash - 1)), tonumber(string.sub(id, dash + 1))
end
local function format(ms, seq)
  return string.format('%.0f-%.0f', ms, seq)
end
local function later(ms, seq, other_ms, other_seq)
  if other_ms > ms or (other_ms == ms and other_seq > seq) then return other_ms, other_seq end
  return ms, seq
end
local function now_ms()
  local now = redis.call('TIME')
  return tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
end
-- Raise the shard's clock to at least `fence`; every later entry of the shard lands above it.
local function mark(clock, fence)
  local ms, seq = parse(redis.call('GET', clock) or '0-0')
  local fence_ms, fence_seq = parse(fence)
  if fence_ms > ms or (fence_ms == ms and fence_seq > seq) then
    redis.call('SET', clock, fence)
    return fence
  end
  return format(ms, seq)
end
"""

_LUA_APPEND = """
-- KEYS: feed, clock, flows, flows:all, flows:active, flows:completed, flows:failed, then the
--       stream of each append
-- ARGV: floor, then per append: expected, aggregate, count, indexed, count x (type, timestamp,
--       data), indexed x (status, flow id, score, timestamp, error)
-- Each append is checked and written on its own: a stale one is refused alone.
local sets = {active = KEYS[5], completed = KEYS[6], failed = KEYS[7]}
local function index(status, flow, score, at, err)
  local row
  if status == 'active' then
    row = {status = status, created = at, score = score}
    redis.call('ZADD', KEYS[4], score, flow)
  else
    local raw = redis.call('HGET', KEYS[3], flow)
    if not raw then return end
    row = cjson.decode(raw)
    row.status, row.completed, row.error = status, at, nil
    if status == 'failed' then row.error = err end
  end
  for _, set in pairs(sets) do redis.call('ZREM', set, flow) end
  redis.call('ZADD', sets[status], row.score, flow)
  redis.call('HSET', KEYS[3], flow, cjson.encode(row))
end

local ms, seq = now_ms(), 0
local clock_ms, clock_seq = parse(redis.call('GET', KEYS[2]) or '0-0')
local floor_ms, floor_seq = parse(ARGV[1])
ms, seq = later(ms, seq, clock_ms, clock_seq + 1)
ms, seq = later(ms, seq, floor_ms, floor_seq + 1)
local results, at, wrote = {}, 2, false
for n = 8, #KEYS do
  local expected, aggregate = tonumber(ARGV[at]), ARGV[at + 1]
  local count, indexed = tonumber(ARGV[at + 2]), tonumber(ARGV[at + 3])
  at = at + 4
  local version = redis.call('XLEN', KEYS[n])
  if version ~= expected then
    results[#results + 1] = {0, version}
    at = at + 3 * count + 5 * indexed
  else
    results[#results + 1] = {1, format(ms, seq)}
    for i = 1, count do
      local id = format(ms, seq)
      redis.call('XADD', KEYS[1], id, 'a', aggregate, 'n', version + i,
                 't', ARGV[at], 'ts', ARGV[at + 1], 'd', ARGV[at + 2])
      redis.call('XADD', KEYS[n], '0-' .. (version + i), 'p', id)
      seq, at, wrote = seq + 1, at + 3, true
    end
    for _ = 1, indexed do
      index(ARGV[at], ARGV[at + 1], ARGV[at + 2], ARGV[at + 3], ARGV[at + 4])
      at = at + 5
    end
  end
end
if wrote then redis.call('SET', KEYS[2], format(ms, seq - 1)) end
return results
"""

_LUA_READ_STREAM = """
-- KEYS: stream, feed; ARGV: after (a seq). The aggregate's feed entries after that seq.
local events = {}
for i, entry in ipairs(redis.call('XRANGE', KEYS[1], '(0-' .. ARGV[1], '+')) do
  local id = entry[2][2]
  events[i] = redis.call('XRANGE', KEYS[2], id, id)[1]
end
return events
"""

_LUA_READ_FEED = """
-- KEYS: feed, clock; ARGV: start, fence, count. The mark, and the entries from start up to it.
local upto = mark(KEYS[2], ARGV[2])
return {upto, redis.call('XRANGE', KEYS[1], ARGV[1], upto, 'COUNT', ARGV[3])}
"""

_LUA_HEAD = """
-- KEYS: feed, clock; ARGV: fence, bound ('' = the mark). The mark, and the last id up to bound.
local upto = mark(KEYS[2], ARGV[1])
local bound = upto
if ARGV[2] ~= '' then bound = ARGV[2] end
local last = redis.call('XREVRANGE', KEYS[1], bound, '-', 'COUNT', 1)[1]
if last then return {upto, last[1]} end
return {upto, ''}
"""

_LUA_HEARTBEAT = """
-- KEYS: instances; ARGV: instance, ttl in ms. Scored by expiry on the server's clock.
redis.call('ZADD', KEYS[1], now_ms() + tonumber(ARGV[2]), ARGV[1])
return 1
"""

_LUA_LIVE = """
-- KEYS: instances. Forget the lapsed instances, list the others.
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms())
return redis.call('ZRANGE', KEYS[1], 0, -1)
"""


@dataclass(frozen=True, slots=True)
class _Script:
    """A Lua script, called by its SHA1 (EVALSHA) and loaded again if the server lost it."""

    text: str
    sha: str


def _script(body: str) -> _Script:
    text = _LUA_IDS + body
    return _Script(text, hashlib.sha1(text.encode()).hexdigest())


APPEND = _script(_LUA_APPEND)
READ_STREAM = _script(_LUA_READ_STREAM)
READ_FEED = _script(_LUA_READ_FEED)
HEAD = _script(_LUA_HEAD)
HEARTBEAT = _script(_LUA_HEARTBEAT)
LIVE = _script(_LUA_LIVE)
_SCRIPTS = (APPEND, READ_STREAM, READ_FEED, HEAD, HEARTBEAT, LIVE)

# -------------------------------------------------------------- URL and keys


@dataclass(frozen=True, slots=True)
class RedisSettings:
    """What a store URL asks for; ``client_url`` is the part redis-py understands."""

    client_url: str
    cluster: bool
    """The URL names a cluster (else one is detected when the server is a cluster node)."""
    prefix: str
    shards: int | None
    shown_url: str
    """The URL with its password hidden, for messages."""


def redis_settings(url: str) -> RedisSettings:
    """Parse a ``redis://``-family URL; raises ValidationError naming every problem."""
    parts = urlsplit(url)
    if parts.scheme not in _SCHEMES:
        schemes = ", ".join(f"{scheme}://" for scheme in SCHEMES)
        raise ValidationError([("store", f"{url!r} is not a Redis URL: use {schemes}")])
    scheme, cluster = _SCHEMES[parts.scheme]
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    prefix = query.pop("prefix", DEFAULT_PREFIX)
    shards = query.pop("shards", None)
    problems = []
    if "{" in prefix or "}" in prefix:
        problems.append(("store", f"prefix {prefix!r} may not hold braces: they make hash tags"))
    if shards is not None and not (
        shards.isascii() and shards.isdecimal() and 1 <= int(shards) <= MAX_SHARDS
    ):
        problems.append(("store", f"shards={shards!r}: use a whole number from 1 to {MAX_SHARDS}"))
    if problems:
        raise ValidationError(problems)
    client_url = urlunsplit((scheme, parts.netloc, parts.path, urlencode(query), ""))
    return RedisSettings(
        client_url, cluster, prefix, None if shards is None else int(shards), _shown(url)
    )


def _shown(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _meta_key(prefix: str) -> str:
    return f"{prefix}{{s0}}:meta"


class _Keys:
    """Key names: every key of shard k carries the hash tag ``{sk}``."""

    def __init__(self, prefix: str, shards: int) -> None:
        self.shards = shards
        self.tags = [f"{prefix}{{s{shard}}}:" for shard in range(shards)]
        self.feeds = [tag + "feed" for tag in self.tags]
        self.clocks = [tag + "clock" for tag in self.tags]
        self.instances = self.tags[0] + "instances"

    def shard(self, aggregate: str) -> int:
        return zlib.crc32(aggregate.encode()) % self.shards

    def stream(self, shard: int, aggregate: str) -> str:
        return f"{self.tags[shard]}stream:{aggregate}"

    def snapshot(self, shard: int, aggregate: str) -> str:
        return f"{self.tags[shard]}snapshot:{aggregate}"

    def flows(self, shard: int) -> str:
        return self.tags[shard] + "flows"

    def flow_set(self, shard: int, status: FlowStatus | None) -> str:
        return f"{self.tags[shard]}flows:{'all' if status is None else status.value}"

    def index(self, shard: int) -> list[str]:
        """The flow index keys, in the order the append script takes them."""
        statuses = (None, FlowStatus.ACTIVE, FlowStatus.COMPLETED, FlowStatus.FAILED)
        return [self.flows(shard), *(self.flow_set(shard, status) for status in statuses)]


# --------------------------------------------------------------- encodings


def _text(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def _json(data: EventData) -> str:
    return json.dumps(data.to_dict(), separators=(",", ":"))


def _micros(moment: datetime) -> int:
    """Microseconds since the epoch, exactly (a naive time counts as UTC)."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return (aware - EPOCH) // MICROSECOND


def _parse_id(raw: bytes | str) -> StreamID:
    text = raw.decode() if isinstance(raw, bytes) else raw
    ms, _, seq = text.partition("-")
    return int(ms), int(seq)


def _format_id(stream_id: StreamID) -> str:
    return f"{stream_id[0]}-{stream_id[1]}"


def _start(after: Position | None, shard: int) -> str:
    """Where a shard's part of the feed starts after ``after`` (entries ordered by id, shard)."""
    if after is None:
        return "-"
    ms, seq, last_shard = after
    return f"({ms}-{seq}" if shard <= last_shard else f"{ms}-{seq}"


def _event(entry: list[Any], shard: int) -> Event:
    entry_id, fields = entry  # fields: a, aggregate, n, seq, t, type, ts, timestamp, d, data
    return Event(
        fields[1].decode(),
        int(fields[3]),
        parse_time(fields[7].decode()),
        decode_data(fields[5].decode(), json.loads(fields[9])),
        f"{entry_id.decode()}-{shard}",
    )


def _summary(flow_id: str, raw: bytes) -> FlowSummary:
    row = json.loads(raw)
    completed = row.get("completed")
    return FlowSummary(
        FlowID(flow_id),
        FlowStatus(row["status"]),
        parse_time(row["created"]),
        None if completed is None else parse_time(completed),
        row.get("error"),
    )


# --------------------------------------------------------------------- store


@dataclass(slots=True)
class _Request:
    """One command waiting for the next pipeline, and the caller waiting for its reply."""

    command: tuple[Any, ...]
    reply: asyncio.Future[Any]


@dataclass(slots=True)
class _Append:
    """One append waiting to join its shard's script call in the next pipeline."""

    shard: int
    stream: str
    args: list[Any]
    """expected, aggregate, count, indexed, then the events' and index rows' fields"""
    reply: asyncio.Future[Any]


@dataclass(slots=True)
class _Page:
    """A shard's part of a feed read: its entries, all at or below ``mark``."""

    mark: StreamID
    entries: list[Any]


class RedisEventStore(ClosesOnExit):
    """Per-aggregate streams, a sharded global feed and the flow index, on Redis.

    Every command but the watchers' blocking reads goes through one queue that is
    sent as a pipeline, so many concurrent callers need few connections.
    Make one with ``await RedisEventStore.open(url)``.
    """

    def __init__(self, url: str, client: Client, keys: _Keys) -> None:
        self.url = url
        self._client = client
        self._keys = keys
        self._cluster = isinstance(client, RedisCluster)
        self._floor: StreamID = (0, 0)
        self._queue: list[_Request | _Append] = []
        self._flush_scheduled = False
        self._sending: set[asyncio.Task[None]] = set()
        self._changes = ChangeSignal()
        self._watchers: list[asyncio.Task[None]] = []
        self._closed = False

    @classmethod
    async def open(cls, url: str) -> RedisEventStore:
        settings = redis_settings(url)
        try:
            client = await _connect(settings)
        except RedisError as error:
            raise StoreError(f"{settings.shown_url}: cannot connect: {error}") from error
        try:
            keys = _Keys(settings.prefix, await _shard_count(client, settings))
            store = cls(settings.shown_url, client, keys)
            await store._load_scripts()
            await store.head()
        except RedisError as error:
            await client.aclose()
            raise StoreError(f"{settings.shown_url}: cannot open: {error}") from error
        except BaseException:
            await client.aclose()
            raise
        return store

    # ----------------------------------------------------------------- append

    async def append(
        self, aggregate: str, expected: int, events: Sequence[EventData], timestamp: datetime
    ) -> list[Event]:
        shard = self._keys.shard(aggregate)
        stamp = _text(timestamp)
        indexed = [cast(IndexedData, data) for data in events if data.type in INDEXED_TYPES]
        args: list[Any] = [expected, aggregate, len(events), len(indexed)]
        for data in events:
            args += (data.type, stamp, _json(data))
        if indexed:
            args += self._index_args(shard, indexed, stamp, timestamp)
        stream = self._keys.stream(shard, aggregate)
        with self._translating():
            appended, detail = await self._enqueue(_Append(shard, stream, args, _future()))
        if not appended:
            raise VersionConflict(aggregate, expected, int(detail))
        if not events:
            return []
        ms, seq = _parse_id(detail)
        self._observe((ms, seq + len(events) - 1))
        self._changes.fire()
        return [
            Event(aggregate, expected + offset + 1, timestamp, data, f"{ms}-{seq + offset}-{shard}")
            for offset, data in enumerate(events)
        ]

    def _index_args(
        self, shard: int, indexed: list[IndexedData], stamp: str, timestamp: datetime
    ) -> list[Any]:
        """The script's index arguments; a flow's row must live in the shard of ``flow:<id>``."""
        args: list[Any] = []
        for data in indexed:
            home = flow_aggregate(data.flow_id)
            if self._keys.shard(home) != shard:
                raise ValidationError(
                    [("events", f"{data.type} of flow {data.flow_id!r} belongs in {home!r}")]
                )
            error = data.error if isinstance(data, FlowFailed) else ""
            status = _INDEX_STATUS[data.type].value
            args += (status, data.flow_id, _micros(timestamp), stamp, error)
        return args

    # ------------------------------------------------------------------- read

    async def read(self, aggregate: str, after: int = 0) -> list[Event]:
        shard = self._keys.shard(aggregate)
        keys = [self._keys.stream(shard, aggregate), self._keys.feeds[shard]]
        with self._translating():
            entries = await self._script(READ_STREAM, keys, [max(after, 0)])
        if entries:
            self._observe(_parse_id(entries[-1][0]))
        return [_event(entry, shard) for entry in entries]

    async def version(self, aggregate: str) -> int:
        shard = self._keys.shard(aggregate)
        with self._translating():
            version: int = await self._execute("XLEN", self._keys.stream(shard, aggregate))
        return version

    async def read_all(self, after: str = "", limit: int = 1000) -> list[Event]:
        position = self._position(after)
        with self._translating():
            if limit <= 0:
                return []
            return [event for _, event in await self._read_feed(position, limit)]

    def subscribe(self, after: str | None = None) -> AsyncIterator[Event]:
        """Follow the feed; ``None`` starts after the newest event this store has seen.

        Opening the store reads the head, so ``None`` means "from now on" for this
        process; what other processes append at the same moment may be included.
        """
        self._check_open()
        if after is None:
            return self._follow((*self._floor, self._keys.shards - 1))
        return self._follow(self._position(after))

    async def head(self) -> str:
        """The newest event at or below a mark every shard has been raised to."""
        shards = range(self._keys.shards)
        with self._translating():
            heads = await self._heads(shards, self._floor, None)
            highest = max(mark for mark, _ in heads.values())
            lagging = [shard for shard, (mark, _) in heads.items() if mark < highest]
            if lagging:
                heads.update(await self._heads(lagging, highest, highest))
        self._observe(highest)
        newest = max(((last, shard) for shard, (_, last) in heads.items() if last), default=None)
        return "" if newest is None else f"{_format_id(newest[0])}-{newest[1]}"

    async def _heads(
        self, shards: Sequence[int], fence: StreamID, bound: StreamID | None
    ) -> dict[int, tuple[StreamID, StreamID | None]]:
        """Each shard's mark after raising it to ``fence``, and its last id up to ``bound``."""
        args = [_format_id(fence), "" if bound is None else _format_id(bound)]
        replies = await asyncio.gather(
            *(
                self._script(HEAD, [self._keys.feeds[shard], self._keys.clocks[shard]], args)
                for shard in shards
            )
        )
        return {
            shard: (_parse_id(mark), _parse_id(last) if last else None)
            for shard, (mark, last) in zip(shards, replies, strict=True)
        }

    async def _read_feed(self, after: Position | None, limit: int) -> list[tuple[Position, Event]]:
        """Up to ``limit`` feed events after ``after``, merged from the shards in (id, shard) order.

        Only events at or below the lowest mark are final; when a shard returns some above it,
        a second round raises the lagging shards to the highest mark and reads their rest.
        """
        if after is not None:
            self._observe(after[:2])  # every shard's mark must reach it: round two starts there
        starts = {shard: _start(after, shard) for shard in range(self._keys.shards)}
        pages = await self._pages(starts, self._floor, limit)
        stable = min(page.mark for page in pages.values())
        highest = max(page.mark for page in pages.values())
        if stable < highest and any(
            _parse_id(entry[0]) > stable for page in pages.values() for entry in page.entries
        ):
            lagging = {
                shard: "+" if len(page.entries) >= limit else f"({_format_id(page.mark)}"
                for shard, page in pages.items()
                if page.mark < highest
            }
            for shard, page in (await self._pages(lagging, highest, limit)).items():
                pages[shard].entries += page.entries
            stable = highest
        self._observe(highest)
        found = [
            ((*_parse_id(entry[0]), shard), entry)
            for shard, page in pages.items()
            for entry in page.entries
        ]
        final = sorted((item for item in found if item[0][:2] <= stable), key=lambda item: item[0])
        return [(position, _event(entry, position[2])) for position, entry in final[:limit]]

    async def _pages(self, starts: dict[int, str], fence: StreamID, limit: int) -> dict[int, _Page]:
        replies = await asyncio.gather(
            *(
                self._script(
                    READ_FEED,
                    [self._keys.feeds[shard], self._keys.clocks[shard]],
                    [start, _format_id(fence), limit],
                )
                for shard, start in starts.items()
            )
        )
        return {
            shard: _Page(_parse_id(mark), list(entries))
            for shard, (mark, entries) in zip(starts, replies, strict=True)
        }

    async def _follow(self, position: Position | None) -> AsyncIterator[Event]:
        self._watch()
        pause = 0.0
        while not self._closed:
            changed = self._changes.waiter()
            try:
                with self._translating():
                    batch = await self._read_feed(position, FEED_BATCH)
            except StoreError as error:
                if self._closed:
                    return
                pause = min(2 * pause or 0.05, RETRY_CAP)
                log.warning("%s; reading the feed again in %.2f s", error, pause)
                await _wait(changed, pause)
                continue
            pause = 0.0
            for _, event in batch:
                if self._closed:
                    return
                yield event
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
        while not self._closed:
            try:
                last = await self._last_ids(feeds)
                self._changes.fire()  # whatever came before the first XREAD
                pause = 0.0
                while not self._closed:
                    reply: Any = await self._client.xread(last, count=1, block=WATCH_BLOCK_MS)
                    if reply:
                        last.update(await self._last_ids([name.decode() for name, _ in reply]))
                        self._changes.fire()
                        await asyncio.sleep(WATCH_COALESCE)
            except RedisError as error:
                pause = min(2 * pause or 0.05, RETRY_CAP)
                log.debug("%s: watching the feed: %s", self.url, error)
                await asyncio.sleep(pause)

    async def _last_ids(self, feeds: list[str]) -> dict[KeyT, StreamIdT]:
        newest = await asyncio.gather(
            *(self._execute("XREVRANGE", feed, "+", "-", "COUNT", 1) for feed in feeds)
        )
        return {
            feed: entries[0][0] if entries else "0-0"
            for feed, entries in zip(feeds, newest, strict=True)
        }

    # ------------------------------------------------------------- flow index

    async def list_flows(
        self, status: FlowStatus | None = None, limit: int | None = None
    ) -> list[FlowSummary]:
        """Newest first; flows created at the same moment come in descending id order."""
        with self._translating():
            if limit is not None and limit <= 0:
                return []
            shards = range(self._keys.shards)
            stop = -1 if limit is None else limit - 1
            replies = await asyncio.gather(
                *(
                    self._execute(
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
                self._execute("HMGET", self._keys.flows(shard), *flow_ids)
                for shard, flow_ids in by_shard.items()
            )
        )
        rows: dict[str, bytes] = {}
        for flow_ids, raws in zip(by_shard.values(), replies, strict=True):
            rows.update(zip(flow_ids, raws, strict=True))
        return [_summary(flow_id, rows[flow_id]) for flow_id, _ in flows]

    async def flow_summary(self, flow_id: str) -> FlowSummary | None:
        shard = self._keys.shard(flow_aggregate(flow_id))
        with self._translating():
            raw = await self._execute("HGET", self._keys.flows(shard), flow_id)
        return None if raw is None else _summary(flow_id, raw)

    # -------------------------------------------------------------- snapshots

    async def save_snapshot(self, aggregate: str, version: int, state: Mapping[str, Any]) -> None:
        key = self._keys.snapshot(self._keys.shard(aggregate), aggregate)
        with self._translating():
            await self._execute("SET", key, json.dumps({"version": version, "state": state}))

    async def load_snapshot(self, aggregate: str) -> tuple[int, dict[str, Any]] | None:
        key = self._keys.snapshot(self._keys.shard(aggregate), aggregate)
        with self._translating():
            raw = await self._execute("GET", key)
        if raw is None:
            return None
        saved = json.loads(raw)
        return saved["version"], saved["state"]

    # -------------------------------------------------------------- instances

    async def heartbeat(self, instance: str, ttl: float) -> None:
        with self._translating():
            await self._script(HEARTBEAT, [self._keys.instances], [instance, round(ttl * 1000)])

    async def live_instances(self) -> set[str]:
        with self._translating():
            names = await self._script(LIVE, [self._keys.instances], [])
        return {name.decode() for name in names}

    async def retire(self, instance: str) -> None:
        with self._translating():
            await self._execute("ZREM", self._keys.instances, instance)

    # ------------------------------------------------------------------ close

    async def aclose(self) -> None:
        """Send the commands already accepted, end every subscription, disconnect."""
        if self._closed:
            return
        self._closed = True
        self._changes.fire()
        while self._queue or self._sending:
            if not self._sending:
                self._flush()
            await asyncio.wait(self._sending)
        while watching := [watcher for watcher in self._watchers if not watcher.done()]:
            # Again until done: on Python 3.11 the asyncio.wait_for redis-py puts around a
            # send can swallow a cancel that lands as the send completes.
            for watcher in watching:
                watcher.cancel()
            await asyncio.wait(watching, timeout=0.05)
        await self._client.aclose()

    # -------------------------------------------------------- auto-pipelining

    async def _script(self, script: _Script, keys: list[str], args: list[Any]) -> Any:
        return await self._execute("EVALSHA", script.sha, len(keys), *keys, *args)

    def _execute(self, *command: Any) -> asyncio.Future[Any]:
        """Queue ``command`` for the next pipeline; the future gets its reply or its error."""
        return self._enqueue(_Request(command, _future()))

    def _enqueue(self, request: _Request | _Append) -> asyncio.Future[Any]:
        self._queue.append(request)
        if not self._flush_scheduled and len(self._sending) < MAX_IN_FLIGHT:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)
        return request.reply

    def _flush(self) -> None:
        """Send the queue as one pipeline, once every task ready this turn has added to it."""
        self._flush_scheduled = False
        if not self._queue or len(self._sending) >= MAX_IN_FLIGHT:
            return
        group, self._queue = self._queue[:MAX_GROUP], self._queue[MAX_GROUP:]
        sending = asyncio.get_running_loop().create_task(self._send(group))
        self._sending.add(sending)
        sending.add_done_callback(self._sent)

    def _sent(self, sending: asyncio.Task[None]) -> None:
        self._sending.discard(sending)
        if self._queue and not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    async def _send(self, group: list[_Request | _Append]) -> None:
        """One pipeline: the plain commands, and one append script call per shard."""
        commands: list[tuple[Any, ...]] = []
        waiting: list[list[asyncio.Future[Any]] | asyncio.Future[Any]] = []
        appends: dict[int, list[_Append]] = {}
        for request in group:
            if isinstance(request, _Append):
                appends.setdefault(request.shard, []).append(request)
            else:
                commands.append(request.command)
                waiting.append(request.reply)
        for shard, batch in appends.items():
            commands.append(self._append_command(shard, batch))
            waiting.append([append.reply for append in batch])
        replies: list[Any]
        try:
            replies = await self._pipeline(commands)
            lost = [n for n, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
            if lost:  # the server restarted or flushed its scripts: none of those ran
                await self._load_scripts()
                again = await self._pipeline([commands[n] for n in lost])
                for n, reply in zip(lost, again, strict=True):
                    replies[n] = reply
        except Exception as error:
            replies = [error] * len(commands)
        for futures, reply in zip(waiting, replies, strict=True):
            if isinstance(futures, list):
                fanned = [reply] * len(futures) if isinstance(reply, BaseException) else reply
                for future, each in zip(futures, fanned, strict=True):
                    _settle(future, each)
            else:
                _settle(futures, reply)

    def _append_command(self, shard: int, batch: list[_Append]) -> tuple[Any, ...]:
        keys = [self._keys.feeds[shard], self._keys.clocks[shard], *self._keys.index(shard)]
        keys += (append.stream for append in batch)
        args = [_format_id(self._floor)]
        for append in batch:
            args += append.args
        return ("EVALSHA", APPEND.sha, len(keys), *keys, *args)

    async def _pipeline(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        pipe = self._client.pipeline(transaction=False)
        for command in commands:
            pipe.execute_command(*command)  # EVALSHA too: a cluster pipeline refuses evalsha()
        replies: list[Any] = await pipe.execute(raise_on_error=False)
        return replies

    async def _load_scripts(self) -> None:
        for script in _SCRIPTS:
            await self._client.script_load(script.text)

    # -------------------------------------------------------------- internals

    def _position(self, position: str) -> Position | None:
        """The position a string names; "" is the start (None)."""
        if position == "":
            return None
        parts = position.split("-")
        if len(parts) == 3 and all(part.isascii() and part.isdecimal() for part in parts):
            ms, seq, shard = (int(part) for part in parts)
            if shard < self._keys.shards:
                return ms, seq, shard
        raise ValidationError([("after", f"{position!r} is not a position of this store")])

    def _observe(self, seen: StreamID) -> None:
        """Remember the highest feed id seen, so this store's next append lands above it."""
        if seen > self._floor:
            self._floor = seen

    @contextlib.contextmanager
    def _translating(self) -> Iterator[None]:
        """Check the store is open; a driver error becomes a StoreError naming the store."""
        self._check_open()
        try:
            yield
        except RedisError as error:
            raise StoreError(f"{self.url}: {error}") from error

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"{self.url}: the store is closed")


class _HiredisPacking:
    """Packs commands in C with hiredis, as redis-py's blocking client does.

    redis-py's asyncio connections pack every argument in Python: with a pipeline
    of appends that was most of the store's CPU time.
    """

    def pack_command(self, *args: Any) -> list[bytes]:
        if isinstance(args[0], str) and " " in args[0]:  # "SCRIPT LOAD" and the like
            packed: list[bytes] = super().pack_command(*args)  # type: ignore[misc]
            return packed
        return [hiredis.pack_command(args)]


class _Connection(_HiredisPacking, Connection):
    pass


class _SSLConnection(_HiredisPacking, SSLConnection):
    pass


_PACKING: dict[type[AbstractConnection], type[AbstractConnection]] = {
    Connection: _Connection,
    SSLConnection: _SSLConnection,
}


async def _connect(settings: RedisSettings) -> Client:
    """A client for the URL: a cluster client if it names a cluster or reaches a cluster node.

    The cluster client keeps redis-py's own connections (it takes no connection class).
    """
    options: dict[str, Any] = {
        "protocol": 2,
        # One quick retry replaces a pooled connection the server dropped (a restart);
        # anything longer is the caller's to retry.
        "retry": Retry(ExponentialBackoff(cap=0.2, base=0.02), 1),
    }
    if not settings.cluster:
        client = Redis.from_url(settings.client_url, **options)
        pool = client.connection_pool
        pool.connection_class = _PACKING.get(pool.connection_class, pool.connection_class)
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
    meta = _meta_key(settings.prefix)
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


def _future() -> asyncio.Future[Any]:
    return asyncio.get_running_loop().create_future()


def _settle(future: asyncio.Future[Any], reply: Any) -> None:
    if future.done():  # its caller was cancelled
        return
    if isinstance(reply, BaseException):
        future.set_exception(reply)
    else:
        future.set_result(reply)


async def _wait(changed: asyncio.Event, timeout: float) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            await changed.wait()
