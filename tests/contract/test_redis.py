"""What the Redis store promises beyond the contract suite: key layout, racing writers
on several connections, the sharded feed's order, wake-ups without polling, data
written by earlier versions, lost scripts, an outage, a cluster.

Servers and the cluster come from the fixtures of ``tests/conftest.py``; a missing
Redis skips (fails when ``CI`` is "true").
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import tomllib
import zlib
from collections.abc import Awaitable, Callable, Iterator
from contextlib import aclosing, closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar, cast

import pytest
import redis
from redis.crc import key_slot
from redis_support import (
    HAVE_REDIS_BINARIES,
    IN_CI,
    LocalCluster,
    RedisProcess,
    sync_client,
    with_prefix,
)

from argyll.errors import StoreError, ValidationError, VersionConflict
from argyll.events import (
    CATALOG,
    Event,
    FlowCompleted,
    FlowFailed,
    FlowStarted,
    StepHealthChanged,
    flow_aggregate,
)
from argyll.flow_query import FlowQuery
from argyll.model import FlowID, FlowStatus, Plan, StepID
from argyll.store import EventStore, RedisEventStore, open_store
from argyll.store.contract import NOW, WAIT, skipped, started, take
from argyll.store.redis import feed, redis_settings

T = TypeVar("T")
MICRO = timedelta(microseconds=1)
GOAL_PLAN = Plan((StepID("g"),), (), {}, {})
KEY = re.compile(
    r"\{s(?P<shard>\d+)\}:"
    r"(?P<kind>feed|clock|meta|instances|flows|flows:(all|active|completed|failed)"
    r"|flows:label:.+|flows:goal:.+"
    r"|(ids|stream):(?P<aggregate>.+)|snapshot:.+)"
)


@pytest.fixture(
    params=["redis", "redis-sharded", *(["redis-cluster"] if HAVE_REDIS_BINARIES or IN_CI else [])]
)
def any_redis_url(request: pytest.FixtureRequest) -> str:
    """One server with the default single shard, one with 8 shards, and the cluster."""
    if request.param == "redis-cluster":
        return str(request.getfixturevalue("redis_cluster_url"))
    url = str(request.getfixturevalue("redis_url"))
    return url + "&shards=8" if request.param == "redis-sharded" else url


@pytest.fixture
def cluster_node_url(redis_cluster: LocalCluster) -> Iterator[str]:
    """A plain ``redis://`` URL of one cluster node, with a prefix of its own."""
    yield from with_prefix(redis_cluster.nodes[0].url)


def stored_shards(url: str) -> int:
    prefix = redis_settings(url).prefix
    with closing(sync_client(url.partition("?")[0])) as client:
        return int(cast(bytes, client.hget(f"{prefix}{{s0}}:meta", "shards")))


async def when_back(call: Callable[[], Awaitable[T]]) -> T:
    """Retry ``call`` while the store raises StoreError, for at most WAIT seconds."""
    async with asyncio.timeout(WAIT):
        while True:
            try:
                return await call()
            except StoreError:
                await asyncio.sleep(0.05)


# -------------------------------------------------------------------- URLs


def test_urls_name_a_server_or_a_cluster_a_prefix_and_shards() -> None:
    plain = redis_settings("redis://127.0.0.1:6379/2")
    assert (plain.client_url, plain.cluster, plain.prefix, plain.shards) == (
        "redis://127.0.0.1:6379/2",
        False,
        "argyll:",
        None,
    )
    cluster = redis_settings(
        "rediss+cluster://:s3cret@node:7000?prefix=app:&shards=32&socket_timeout=2"
    )
    assert (cluster.client_url, cluster.cluster, cluster.prefix, cluster.shards) == (
        "rediss://:s3cret@node:7000?socket_timeout=2",
        True,
        "app:",
        32,
    )
    assert "s3cret" not in cluster.shown_url


def test_a_bad_redis_url_names_every_problem() -> None:
    with pytest.raises(ValidationError) as raised:
        redis_settings("redis://host?prefix=a{b}:&shards=0")
    assert len(raised.value.problems) == 2
    for bad in ["redis://h?shards=x", "redis://h?shards=100000", "http://h"]:
        with pytest.raises(ValidationError):
            redis_settings(bad)


# -------------------------------------------------------------- key layout


async def test_every_key_carries_the_prefix_and_its_shard_tag(any_redis_url: str) -> None:
    prefix = redis_settings(any_redis_url).prefix
    async with open_store(any_redis_url) as store:
        for n in range(12):
            flow = f"f{n}"
            start = FlowStarted(FlowID(flow), GOAL_PLAN, {}, labels={"n": str(n)})
            await store.append(f"flow:{flow}", 0, [start], NOW)
            end = FlowCompleted(FlowID(flow)) if n % 2 else FlowFailed(FlowID(flow), "boom")
            await store.append(f"flow:{flow}", 1, [end], NOW)
        await store.append(CATALOG, 0, [StepHealthChanged(StepID("s"), "healthy")], NOW)
        await store.heartbeat("engine-1", 5.0)
        assert len(await store.read_all()) == 25

    shards = stored_shards(any_redis_url)
    with closing(sync_client(any_redis_url.partition("?")[0])) as client:
        keys = [key.decode() for key in client.scan_iter(match=f"{prefix}*", count=1000)]
    slots: dict[int, set[int]] = {}
    kinds = set()
    for key in keys:
        assert key.startswith(prefix)
        match = KEY.fullmatch(key.removeprefix(prefix))
        assert match, key
        shard = int(match["shard"])
        assert shard < shards
        if match["aggregate"]:
            assert zlib.crc32(match["aggregate"].encode()) % shards == shard
        slots.setdefault(shard, set()).add(key_slot(key.encode()))
        kinds.add(match["kind"].split(":")[0])
    assert kinds == {"feed", "clock", "ids", "flows", "meta", "instances"}
    assert all(len(slot) == 1 for slot in slots.values())  # a shard lives in one slot


async def test_the_shard_count_stays_with_the_keys(redis_url: str) -> None:
    async with open_store(redis_url + "&shards=4") as store:
        appended = await store.append("flow:a", 0, [started("a")], NOW)

    with pytest.raises(ValidationError):
        await open_store(redis_url + "&shards=2")
    async with open_store(redis_url) as reopened:
        assert await reopened.read_all() == appended
    assert stored_shards(redis_url) == 4


# ------------------------------------------------------------ concurrency


@pytest.mark.parametrize("instances", [1, 2])
async def test_racing_appenders_on_one_aggregate_lose_and_duplicate_nothing(
    redis_url: str, instances: int
) -> None:
    writers, rounds = 30, 4

    async with open_store(redis_url) as first, open_store(redis_url) as second:
        stores: list[EventStore] = [first, second][:instances]

        async def write(writer: int) -> None:
            store = stores[writer % instances]
            for n in range(rounds):
                while True:
                    version = await store.version("flow:a")
                    batch = [skipped("a", f"{writer}/{n}"), skipped("a", f"{writer}/{n}+")]
                    try:
                        await store.append("flow:a", version, batch, NOW)
                        break
                    except VersionConflict:
                        continue

        async with asyncio.timeout(4 * WAIT):
            await asyncio.gather(*(write(writer) for writer in range(writers)))
        events = await second.read("flow:a")
        assert await first.read_all(limit=10_000) == events

    reasons: list[str] = [event.data.reason for event in events]  # type: ignore[attr-defined]
    assert [event.seq for event in events] == list(range(1, 2 * writers * rounds + 1))
    assert sorted(reasons[::2]) == sorted(f"{w}/{n}" for w in range(writers) for n in range(rounds))
    assert all(
        second == first + "+" for first, second in zip(reasons[::2], reasons[1::2], strict=True)
    )
    for writer in range(writers):
        mine = [reason for reason in reasons[::2] if reason.startswith(f"{writer}/")]
        assert mine == [f"{writer}/{n}" for n in range(rounds)]


async def test_racing_starts_leave_the_query_sets_as_the_winners_wrote_them(
    redis_url: str,
) -> None:
    """Two instances start the same flows at once (one of them twice, so a refused start
    and a winning one can share a script call), each start labelled by who made it: the
    losers are refused, and the label, goal and status sets hold the winners only."""
    url = redis_url + "&shards=4"
    flows = [f"f{n}" for n in range(40)]
    async with open_store(url) as first, open_store(url) as second:

        async def start(store: EventStore, flow_id: str, who: str) -> str | None:
            data = FlowStarted(FlowID(flow_id), GOAL_PLAN, {}, labels={"by": who, "x": flow_id})
            try:
                await store.append(flow_aggregate(flow_id), 0, [data], NOW)
            except VersionConflict:
                return None
            return who

        async with asyncio.timeout(4 * WAIT):
            winners = await asyncio.gather(
                *(
                    start(store, flow, who)
                    for flow in flows
                    for store, who in ((first, "first"), (second, "second"), (first, "again"))
                )
            )
        by = {
            flow: who
            for flow, who in zip([flow for flow in flows for _ in range(3)], winners, strict=True)
            if who
        }

        assert sorted(by) == sorted(flows)
        for who in ("first", "second", "again"):
            listed = await first.query_flows(FlowQuery(labels={"by": who}, limit=100))
            assert sorted(flow.id for flow in listed.flows) == sorted(
                flow for flow, winner in by.items() if winner == who
            )
        every = await second.query_flows(FlowQuery(goals=("g",), limit=100))
        assert sorted(flow.id for flow in every.flows) == sorted(flows)
        assert (await second.flow_counts())[FlowStatus.ACTIVE] == len(flows)


async def test_a_sharded_feed_puts_each_append_after_what_its_writer_saw(redis_url: str) -> None:
    url = redis_url + "&shards=8"
    async with open_store(url) as first, open_store(url) as second:
        appended: list[Event] = []
        for n in range(24):
            writer, other = (first, second) if n % 2 else (second, first)
            if appended:
                await writer.read(appended[-1].aggregate)  # it has seen the last event
            appended += await writer.append(f"flow:{n}", 0, [skipped(str(n))], NOW)
            # The other store reads it at once, though its shards' clocks lag behind.
            assert await other.read_all(after=appended[-2].position if n else "") == appended[-1:]

        feed = await first.read_all()
        assert feed == appended
        assert len({event.position.rsplit("-", 1)[1] for event in feed}) > 1  # several shards
        assert await second.head() == appended[-1].position
        pages: list[Event] = []
        while page := await second.read_all(after=pages[-1].position if pages else "", limit=5):
            pages += page
        assert pages == feed
        async with aclosing(second.subscribe(feed[9].position)) as following:
            assert await take(following, 14) == feed[10:]


async def test_a_subscriber_wakes_on_another_instances_appends(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No polling: a subscriber that has read everything waits for a wake-up, without a
    timeout here, and each event another instance appends still reaches it."""
    parked = asyncio.Event()

    async def wait_for_a_wake_up(changed: asyncio.Event, timeout: float) -> None:
        parked.set()
        try:
            await changed.wait()
        finally:
            parked.clear()

    monkeypatch.setattr(feed, "_wait", wait_for_a_wake_up)
    received: asyncio.Queue[Event] = asyncio.Queue()
    async with open_store(redis_url) as mine, open_store(redis_url) as theirs:

        async def follow() -> None:
            async for event in mine.subscribe(await mine.head()):
                received.put_nowait(event)

        following = asyncio.create_task(follow())
        for n in range(5):
            async with asyncio.timeout(WAIT):
                await parked.wait()  # it has read the feed to the end
            appended = await theirs.append("flow:a", n, [skipped("a", str(n))], NOW)
            async with asyncio.timeout(WAIT):
                assert [await received.get()] == appended
    await following  # closing the store ended it


async def test_entries_written_before_events_had_versions_still_read(redis_url: str) -> None:
    """A feed entry of an earlier argyll has no ``v`` field: its data decodes as version 1."""
    async with open_store(redis_url):
        pass  # the keys' shard count (one) is set
    tag = f"{redis_settings(redis_url).prefix}{{s0}}:"
    entry_id = "1714566615123-0"
    with closing(sync_client(redis_url.partition("?")[0])) as client:
        old = {
            "a": "flow:old",
            "n": 1,
            "t": "step_skipped",
            "ts": "2024-05-01T12:30:15.123000+00:00",
            "d": '{"flow_id":"old","step_id":"s","reason":"not needed"}',
        }
        client.xadd(tag + "feed", old, id=entry_id)  # type: ignore[arg-type]
        client.xadd(tag + "stream:flow:old", {"p": entry_id}, id="0-1")
        client.set(tag + "clock", entry_id)

    async with open_store(redis_url) as store:
        expected = [Event("flow:old", 1, NOW, skipped("old"), f"{entry_id}-0")]
        assert await store.read("flow:old") == expected
        assert await store.read_all() == expected
        appended = await store.append("flow:old", 1, [skipped("old", "new")], NOW)
        assert await store.read("flow:old") == expected + appended


async def test_entries_are_kept_compact(redis_url: str) -> None:
    """A flow event's data leaves out the flow id its aggregate names; its time is an integer;
    its stream of feed ids is a string of 16 bytes an event."""
    async with open_store(redis_url) as store:
        appended = await store.append("flow:f", 0, [started("f"), skipped("f")], NOW)
        assert await store.read("flow:f") == appended
    tag = f"{redis_settings(redis_url).prefix}{{s0}}:"
    with closing(sync_client(redis_url.partition("?")[0])) as client:
        (_, fields), _ = client.xrange(tag + "feed")
        assert b"flow_id" not in fields[b"d"]
        assert fields[b"ts"] == str((NOW - datetime(1970, 1, 1, tzinfo=UTC)) // MICRO).encode()
        assert client.strlen(tag + "ids:flow:f") == 32
        assert not client.exists(tag + "stream:flow:f")


async def test_a_flow_written_in_the_earlier_layout_is_removed_whole(redis_url: str) -> None:
    async with open_store(redis_url):
        pass  # the keys' shard count (one) is set
    tag = f"{redis_settings(redis_url).prefix}{{s0}}:"
    with closing(sync_client(redis_url.partition("?")[0])) as client:
        client.set(tag + "clock", "1714566615123-0")
        old = {
            "a": "flow:old",
            "n": 1,
            "t": "flow_deactivated",  # its last event (the only one kept here)
            "ts": "2024-05-01T12:30:15.123000+00:00",
        }
        data = '{"flow_id":"old","status":"completed"}'
        client.xadd(tag + "feed", {**old, "d": data}, id="1714566615123-0")  # type: ignore[arg-type]
        client.xadd(tag + "stream:flow:old", {"p": "1714566615123-0"}, id="0-1")
        client.hset(
            tag + "flows",
            "old",
            json.dumps(
                {"status": "completed", "created": old["ts"], "completed": old["ts"], "score": 1}
            ),
        )
        client.zadd(tag + "flows:all", {"old": 1})
        client.zadd(tag + "flows:completed", {"old": 1})

    async with open_store(redis_url) as store:
        await store.append("flow:new", 0, [started("new")], NOW)
        assert [event.seq for event in await store.read("flow:old")] == [1]
        later = NOW + timedelta(seconds=1)
        assert [flow.id for flow in await store.ended_flows(later, 10)] == ["old"]
        assert await store.remove_flows(["old"], later) == ["old"]
        assert await store.read("flow:old") == []
        assert [event.aggregate for event in await store.read_all()] == ["flow:new"]
    with closing(sync_client(redis_url.partition("?")[0])) as client:
        assert not client.exists(tag + "stream:flow:old")


# --------------------------------------------------------------- operations


async def test_scripts_the_server_lost_are_loaded_again(local_redis: RedisProcess) -> None:
    def flush_scripts() -> None:
        with closing(redis.Redis.from_url(local_redis.url)) as admin:
            admin.script_flush()

    async with open_store(local_redis.url) as store:
        await store.append("flow:a", 0, [started("a")], NOW)
        flush_scripts()
        appended = await store.append("flow:a", 1, [skipped("a")], NOW)
        flush_scripts()
        assert [event.seq for event in await store.read("flow:a")] == [1, 2]
        flush_scripts()
        assert (await store.read_all())[-1] == appended[0]
        flush_scripts()
        assert await store.head() == appended[0].position


async def test_an_outage_raises_store_error_then_work_goes_on_and_nothing_is_lost(
    local_redis: RedisProcess,
) -> None:
    url = f"{local_redis.url}?socket_timeout=2&socket_connect_timeout=1"
    expected = 7
    async with open_store(url) as store:
        received: list[Event] = []
        all_received = asyncio.Event()

        async def follow() -> None:
            async for event in store.subscribe(""):
                received.append(event)
                if len(received) == expected:
                    all_received.set()

        following = asyncio.create_task(follow())
        before: list[Event] = []
        for n in range(5):
            before += await store.append("flow:a", n, [skipped("a", f"before {n}")], NOW)

        local_redis.kill()
        began = time.monotonic()
        with pytest.raises(StoreError):
            await store.append("flow:a", 5, [skipped("a", "during")], NOW)
        with pytest.raises(StoreError):
            await store.read("flow:a")
        assert time.monotonic() - began < WAIT

        local_redis.start()
        after = await when_back(lambda: store.append("flow:a", 5, [skipped("a", "after")], NOW))
        after += await store.append("flow:a", 6, [skipped("a", "after again")], NOW)

        assert await store.read("flow:a") == before + after
        async with asyncio.timeout(WAIT):
            await all_received.wait()
    await following  # closing the store ended it
    assert received == before + after


# ------------------------------------------------------------------ cluster


async def test_a_plain_url_to_a_cluster_node_is_seen_to_be_a_cluster(cluster_node_url: str) -> None:
    async with open_store(cluster_node_url) as store:
        assert isinstance(store, RedisEventStore)
        appended = await store.append("flow:a", 0, [started("a")], NOW)
        assert await store.read_all() == appended
        assert await store.list_flows(FlowStatus.ACTIVE) != []
    assert stored_shards(cluster_node_url.replace("redis://", "redis+cluster://", 1)) == 16


def test_the_lua_scripts_ship_as_package_data() -> None:
    """A non-editable install has only what pyproject.toml's package-data names besides code."""
    root = Path(__file__).parents[2]
    declared = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    package = root / "argyll" / "store" / "redis"
    patterns = declared["package-data"]["argyll.store.redis"]
    scripts = sorted(package.glob("lua/*.lua"))
    assert scripts
    assert all(any(script.relative_to(package).match(p) for p in patterns) for script in scripts)
