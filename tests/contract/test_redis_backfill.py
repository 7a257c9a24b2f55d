"""Rows the Redis store wrote before its label, goal and parent sets existed are found by
label, goal and parent once the store has been opened, by one process or two at once."""

from __future__ import annotations

import asyncio
import json
from contextlib import closing

import pytest
import redis
from redis_support import sync_client

from argyll.events import FlowCompleted, FlowStarted, flow_aggregate
from argyll.flow_query import FlowQuery
from argyll.model import FlowID, FlowStatus, ParentRef, Plan, StepID, Token
from argyll.store import open_store
from argyll.store.contract import NOW, WAIT
from argyll.store.redis import redis_settings
from argyll.store.redis.settings import Keys, meta_key

PLAN = Plan((StepID("g"),), (), {}, {})
OLD, NEW = "old", "new"


def make_old(client: redis.Redis, keys: Keys, flow_id: str, labelled: bool = True) -> None:
    """Make the flow's row as an earlier store wrote it: no goals (nor labels, before labels
    existed) and in none of the sets a query by label, goal or parent reads."""
    shard = keys.shard(flow_aggregate(flow_id))
    row = json.loads(client.hget(keys.flows(shard), flow_id))  # type: ignore[arg-type]
    for key in keys.row_sets(shard, json.loads(row["labels"]), ["g"], row.get("parent")):
        client.zrem(key, flow_id)
    del row["goals"]
    row.pop("parent", None)
    if not labelled:
        del row["labels"]
    client.hset(keys.flows(shard), flow_id, json.dumps(row))
    client.hdel(keys.meta, "indexes")


async def write_flows(url: str) -> Keys:
    """An ended old flow, an old child of it, an unlabelled old flow and a new flow."""
    child = ParentRef(FlowID(OLD), StepID("sub"), Token("t"))
    starts = [
        FlowStarted(FlowID(OLD), PLAN, {}, labels={"team": "a"}),
        FlowStarted(FlowID("child"), PLAN, {}, labels={"team": "b"}, parent=child),
        FlowStarted(FlowID("bare"), PLAN, {}),
        FlowStarted(FlowID(NEW), PLAN, {}, labels={"team": "a"}),
    ]
    async with open_store(url) as store:
        for start in starts:
            await store.append(flow_aggregate(start.flow_id), 0, [start], NOW)
        await store.append(flow_aggregate(OLD), 1, [FlowCompleted(FlowID(OLD))], NOW)
    prefix = redis_settings(url).prefix
    with closing(sync_client(url.partition("?")[0])) as client:
        keys = Keys(prefix, int(client.hget(meta_key(prefix), "shards")))  # type: ignore[arg-type]
        for flow_id, labelled in ((OLD, True), ("child", True), ("bare", False)):
            make_old(client, keys, flow_id, labelled)  # type: ignore[arg-type]
    return keys


async def found(url: str, query: FlowQuery) -> list[str]:
    async with open_store(url) as store:
        return sorted(flow.id for flow in (await store.query_flows(query)).flows)


@pytest.fixture(params=["redis-sharded", "redis-cluster"])
def sharded_url(request: pytest.FixtureRequest) -> str:
    """One server with four shards, and the local cluster."""
    if request.param == "redis-cluster":
        return str(request.getfixturevalue("redis_cluster_url"))
    return str(request.getfixturevalue("redis_url")) + "&shards=4"


async def test_an_old_row_is_found_by_label_goal_and_parent_after_open(sharded_url: str) -> None:
    url = sharded_url
    await write_flows(url)

    assert await found(url, FlowQuery(labels={"team": "a"})) == [NEW, OLD]
    assert await found(url, FlowQuery(goals=("g",))) == ["bare", "child", NEW, OLD]
    assert await found(url, FlowQuery(parent=OLD)) == ["child"]
    query = FlowQuery(
        labels={"team": "a"}, goals=("g",), statuses=frozenset({FlowStatus.COMPLETED})
    )
    assert await found(url, query) == [OLD]
    async with open_store(url) as store:
        summary = await store.flow_summary(OLD)
        assert summary is not None
        assert (summary.labels, summary.goals) == ({"team": "a"}, ("g",))


async def test_two_processes_opening_at_once_backfill_once_and_leave_no_lease(
    redis_url: str,
) -> None:
    keys = await write_flows(redis_url)

    async with asyncio.timeout(WAIT):
        stores = await asyncio.gather(open_store(redis_url), open_store(redis_url))
    for store in stores:
        async with store:
            page = await store.query_flows(FlowQuery(labels={"team": "a"}))
            assert sorted(flow.id for flow in page.flows) == [NEW, OLD]
    with closing(sync_client(redis_url.partition("?")[0])) as client:
        assert client.hget(keys.meta, "indexes") == b"1"
        assert not client.exists(keys.backfill_lease)
        for flow_id in (OLD, NEW):
            assert client.zscore(keys.label_set(0, "team", "a"), flow_id) is not None


async def test_once_marked_the_prefix_is_not_walked_again(redis_url: str) -> None:
    """The marker, not the rows, says the backfill is done: a row made old after it stays
    out of the sets (no process of this version writes one)."""
    keys = await write_flows(redis_url)
    assert await found(redis_url, FlowQuery(labels={"team": "a"})) == [NEW, OLD]
    with closing(sync_client(redis_url.partition("?")[0])) as client:
        make_old(client, keys, NEW)  # type: ignore[arg-type]
        client.hset(keys.meta, "indexes", 1)

    assert await found(redis_url, FlowQuery(labels={"team": "a"})) == [OLD]


async def test_a_lease_its_holder_stopped_renewing_is_taken_over(redis_url: str) -> None:
    keys = await write_flows(redis_url)
    with closing(sync_client(redis_url.partition("?")[0])) as client:
        client.set(keys.backfill_lease, "a process that is gone", px=300)

    async with asyncio.timeout(WAIT):
        assert await found(redis_url, FlowQuery(labels={"team": "a"})) == [NEW, OLD]
