"""What a Redis store URL asks for, and the names of the keys the store keeps.

Keys of shard k all carry the hash tag ``{sk}``, so a shard lives in one cluster
slot and one Lua script can touch all of it::

    <prefix>{sk}:feed                 stream: the shard's part of the global feed (the events)
    <prefix>{sk}:clock                the id every later feed entry of the shard must exceed
    <prefix>{sk}:ids:<aggregate>      string: the aggregate's events' feed ids, 16 bytes each
    <prefix>{sk}:stream:<aggregate>   stream: the same, as written before (lua/events.lua)
    <prefix>{sk}:snapshot:<aggregate> the aggregate's latest snapshot (JSON)
    <prefix>{sk}:flows                hash: flow id -> its index row (JSON)
    <prefix>{sk}:flows:<set>          sorted sets all/<each status>, by creation time
    <prefix>{sk}:flows:label:<label>  sorted set per label (JSON [name, value]), by creation time
    <prefix>{sk}:flows:goal:<step>    sorted set per goal step, by creation time
    <prefix>{sk}:flows:parent:<flow>  sorted set of a parent flow's children, by creation time
    <prefix>{s0}:meta                 hash: shards (fixed at first use), indexes (the version
                                      of the query sets every row is in: ``backfill``)
    <prefix>{s0}:instances, <prefix>{s0}:backfill   live instances; the backfill's lease
    <prefix>{s0}:slots:held:<step>    hash: item (flow \x1f token) -> instance holding its slot
    <prefix>{s0}:slots:queue:<step>   sorted set: items waiting for a slot, by arrival
    <prefix>{s0}:slots:waiting:<step> hash: waiting item -> instance
    <prefix>{s0}:slots:steps, <prefix>{s0}:slots:arrivals   steps with slot keys; a counter
    <prefix>{memo}:entries            hash: memo key -> the memo (JSON)
    <prefix>{memo}:owners             hash: memo key -> its step id
    <prefix>{memo}:uses               sorted set: memo keys by last put or hit (a counter)
    <prefix>{memo}:clock              that counter
    <prefix>{memo}:step:<step>        set: the step's memo keys, so an update drops them
    <prefix>{memo}:flow:<flow>        set: the memo keys the flow produced, so removing the
                                      flow's history (retention) drops them

Every memo key shares the ``{memo}`` hash tag, so a get (and the use it counts) is one
script call, and a put evicts the least recently used of the whole store at once; on
a cluster, memo traffic is one node's.

An aggregate belongs to shard ``crc32(name) % shards``; a flow's index row lives
in the shard of ``flow:<id>`` (so a flow's start, end and index row share a slot).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from argyll.errors import ValidationError
from argyll.model import FlowStatus
from argyll.redaction import redact_url
from argyll.store.options import MEMO_LIMIT_OPTION, memo_limit_problems, parse_memo_limit

DEFAULT_PREFIX = "argyll:"
SERVER_SHARDS = 1
CLUSTER_SHARDS = 16
MAX_SHARDS = 1024
_SCHEMES = {
    "redis": ("redis", False),
    "rediss": ("rediss", False),
    "redis+cluster": ("redis", True),
    "rediss+cluster": ("rediss", True),
}
SCHEMES = tuple(_SCHEMES)


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
    memo_limit: int


def redis_settings(url: str) -> RedisSettings:
    """Parse a ``redis://``-family URL; raises ValidationError naming every problem."""
    parts = urlsplit(url)
    if parts.scheme not in _SCHEMES:
        schemes = ", ".join(f"{scheme}://" for scheme in SCHEMES)
        shown = redact_url(url)
        raise ValidationError([("store", f"{shown!r} is not a Redis URL: use {schemes}")])
    scheme, cluster = _SCHEMES[parts.scheme]
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    prefix = query.pop("prefix", DEFAULT_PREFIX)
    shards = query.pop("shards", None)
    memo_limit = query.pop(MEMO_LIMIT_OPTION, None)
    problems = memo_limit_problems(memo_limit)
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
        client_url,
        cluster,
        prefix,
        None if shards is None else int(shards),
        redact_url(url),
        parse_memo_limit(memo_limit),
    )


def meta_key(prefix: str) -> str:
    """The key that keeps the shard count, read before the count (and so ``Keys``) is known."""
    return f"{prefix}{{s0}}:meta"


class Keys:
    """Key names: every key of shard k carries the hash tag ``{sk}``."""

    def __init__(self, prefix: str, shards: int) -> None:
        self.shards = shards
        self.tags = [f"{prefix}{{s{shard}}}:" for shard in range(shards)]
        self.feeds = [tag + "feed" for tag in self.tags]
        self.clocks = [tag + "clock" for tag in self.tags]
        self.meta = self.tags[0] + "meta"
        self.instances = self.tags[0] + "instances"
        self.backfill_lease = self.tags[0] + "backfill"
        """Held by the process that puts rows of an earlier version into the query sets."""
        self.slots = self.tags[0] + "slots:"
        """Slot keys share the instances' hash tag, so reaping sees both in one script."""
        self.slot_steps = self.slots + "steps"
        self.slot_arrivals = self.slots + "arrivals"
        memos = f"{prefix}{{memo}}:"
        self.memo_tables = [memos + name for name in ("entries", "owners", "uses")]
        """The keys every memo script takes first, in this order."""
        self.memo_clock = memos + "clock"
        self.memo_steps = memos + "step:"
        self.memo_flows = memos + "flow:"

    def memo_step(self, step_id: str) -> str:
        return self.memo_steps + step_id

    def step_slots(self, step_id: str) -> list[str]:
        """The step's slot keys (held, queue, waiting), in the order the slot scripts take them."""
        return [f"{self.slots}{part}:{step_id}" for part in ("held", "queue", "waiting")]

    def shard(self, aggregate: str) -> int:
        return zlib.crc32(aggregate.encode()) % self.shards

    def events(self, shard: int, aggregate: str) -> list[str]:
        """The keys that list the aggregate's events (ids, then the earlier layout's stream),
        in the order the scripts take them (``lua/events.lua``)."""
        return [f"{self.tags[shard]}ids:{aggregate}", f"{self.tags[shard]}stream:{aggregate}"]

    def snapshot(self, shard: int, aggregate: str) -> str:
        return f"{self.tags[shard]}snapshot:{aggregate}"

    def flows(self, shard: int) -> str:
        return self.tags[shard] + "flows"

    def flow_set(self, shard: int, status: FlowStatus | None) -> str:
        return f"{self.tags[shard]}flows:{'all' if status is None else status.value}"

    def label_set(self, shard: int, name: str, value: str) -> str:
        return f"{self.tags[shard]}flows:label:{json.dumps([name, value])}"

    def goal_set(self, shard: int, goal: str) -> str:
        return f"{self.tags[shard]}flows:goal:{goal}"

    def parent_set(self, shard: int, parent: str) -> str:
        return f"{self.tags[shard]}flows:parent:{parent}"

    def row_sets(
        self, shard: int, labels: Mapping[str, str], goals: Iterable[str], parent: str | None
    ) -> list[str]:
        """The label, goal and parent sets a flow's row is in, besides all and its status."""
        return [
            *(self.label_set(shard, name, value) for name, value in labels.items()),
            *(self.goal_set(shard, goal) for goal in goals),
            *([] if parent is None else [self.parent_set(shard, parent)]),
        ]

    def index(self, shard: int) -> list[str]:
        """The flow index keys, in the order the append script takes them."""
        statuses = (None, *FlowStatus)
        return [self.flows(shard), *(self.flow_set(shard, status) for status in statuses)]
