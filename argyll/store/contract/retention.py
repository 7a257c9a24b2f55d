"""The suite of the retention role: ended flows found by their end, and their history removed."""

# ruff: noqa: S101 — pytest suites: a failed assert is how a backend fails the contract

from __future__ import annotations

import asyncio
from contextlib import aclosing

import pytest

from argyll.errors import StoreError
from argyll.events import (
    FlowCanceled,
    FlowCompleted,
    FlowDeactivated,
    FlowFailed,
    FlowPaused,
    FlowRetried,
    FlowStarted,
    flow_aggregate,
)
from argyll.flow_query import FlowQuery
from argyll.memo import Memo
from argyll.model import FlowID, FlowStatus, ParentRef, Plan, StepID, Token
from argyll.store.base import EventStore
from argyll.store.contract.support import WAIT, Suite, append_to, at, skipped, started, take

CUTOFF = at(100)


async def ended_flow(
    store: EventStore,
    flow_id: str,
    ended: float,
    how: str = "completed",
    *,
    deactivated: bool = True,
) -> None:
    """A flow started at 0 with one more event, ended ``ended`` seconds after NOW and, unless
    its compensation is to be still running, deactivated in the same write."""
    flow = FlowID(flow_id)
    await append_to(store, flow_aggregate(flow_id), [started(flow_id), skipped(flow_id)], at(0))
    end = {
        "completed": FlowCompleted(flow),
        "failed": FlowFailed(flow, "boom"),
        "canceled": FlowCanceled(flow),
    }[how]
    events = [end, FlowDeactivated(flow, how)] if deactivated else [end]
    await append_to(store, flow_aggregate(flow_id), events, at(ended))


class RetentionContract(Suite):
    """ended_flows, remove_flows: only ended flows, ended before the cutoff, checked as removed."""

    async def test_ended_flows_are_those_that_ended_before_the_cutoff(
        self, store: EventStore
    ) -> None:
        await ended_flow(store, "done", 10)
        await ended_flow(store, "failed", 20, "failed")
        await ended_flow(store, "canceled", 30, "canceled")
        await ended_flow(store, "recent", 200)
        await append_to(store, "flow:running", [started("running")], at(0))
        await append_to(store, "flow:paused", [started("paused"), FlowPaused(FlowID("paused"))])

        found = await store.ended_flows(CUTOFF, 10)

        assert sorted(flow.id for flow in found) == ["canceled", "done", "failed"]
        assert all(flow.completed_at is not None for flow in found)

    async def test_ended_flows_come_in_batches_of_at_most_the_limit(
        self, store: EventStore
    ) -> None:
        for n in range(7):
            await ended_flow(store, f"f{n}", 10 + n)
        await ended_flow(store, "recent", 200)

        first = await store.ended_flows(CUTOFF, 3)
        assert len(first) == 3
        assert await store.remove_flows([flow.id for flow in first], CUTOFF) == [
            flow.id for flow in first
        ]
        rest = await store.ended_flows(CUTOFF, 10)

        assert sorted(flow.id for flow in first + rest) == [f"f{n}" for n in range(7)]
        assert await store.ended_flows(CUTOFF, 0) == []

    async def test_removing_a_flow_takes_its_events_row_and_snapshot(
        self, store: EventStore
    ) -> None:
        await ended_flow(store, "old", 10)
        await store.save_snapshot("flow:old", 2, {"status": "completed"})

        assert await store.remove_flows(["old"], CUTOFF) == ["old"]

        assert await store.read("flow:old") == []
        assert await store.version("flow:old") == 0
        assert await store.flow_summary("old") is None
        assert await store.list_flows() == []
        assert await store.load_snapshot("flow:old") is None
        assert await store.ended_flows(CUTOFF, 10) == []

    async def test_other_events_keep_their_feed_positions(self, store: EventStore) -> None:
        await append_to(store, "flow:kept", [started("kept")], at(0))
        await ended_flow(store, "old", 10)
        await append_to(store, "flow:kept", [skipped("kept")], at(20))
        before = [event for event in await store.read_all() if event.aggregate == "flow:kept"]

        await store.remove_flows(["old"], CUTOFF)

        after = await store.read_all()
        assert [(event.aggregate, event.seq, event.position) for event in after] == [
            (event.aggregate, event.seq, event.position) for event in before
        ]
        assert await store.read_all(before[0].position) == before[1:]
        async with aclosing(store.subscribe("")) as feed:
            assert await take(feed, 2) == before

    async def test_a_flow_appended_after_a_removal_reads_on(self, store: EventStore) -> None:
        await ended_flow(store, "old", 10)
        await store.remove_flows(["old"], CUTOFF)
        head = await store.head()

        appended = await append_to(store, "flow:new", [started("new")], at(300))

        assert await store.read_all(head) == appended
        assert await store.read("flow:new") == appended

    async def test_flows_not_ended_before_the_cutoff_stay(self, store: EventStore) -> None:
        await ended_flow(store, "recent", 200)
        await append_to(store, "flow:running", [started("running")], at(0))

        removed = await store.remove_flows(["recent", "running", "unknown"], CUTOFF)

        assert removed == []
        assert len(await store.read("flow:recent")) == 4
        assert await store.flow_summary("running") is not None

    async def test_a_flow_retried_after_it_was_listed_stays(self, store: EventStore) -> None:
        await ended_flow(store, "again", 10, "failed")
        listed = await store.ended_flows(CUTOFF, 10)
        await append_to(store, "flow:again", [FlowRetried(FlowID("again"), ())], at(50))

        assert await store.remove_flows([flow.id for flow in listed], CUTOFF) == []
        assert len(await store.read("flow:again")) == 5

    async def test_removing_twice_removes_once(self, store: EventStore) -> None:
        await ended_flow(store, "old", 10)

        assert await store.remove_flows(["old", "old"], CUTOFF) == ["old"]
        assert await store.remove_flows(["old"], CUTOFF) == []

    async def test_memo_entries_the_flow_produced_go_with_it(self, store: EventStore) -> None:
        await ended_flow(store, "old", 10)
        await ended_flow(store, "kept", 200)
        await store.memo_put("from-old", Memo(StepID("s"), {"out": 1}, "old", 3, at(5)))
        await store.memo_put("from-kept", Memo(StepID("s"), {"out": 2}, "kept", 3, at(5)))
        await store.memo_put("moved", Memo(StepID("s"), {"out": 3}, "old", 3, at(5)))
        await store.memo_put("moved", Memo(StepID("t"), {"out": 4}, "kept", 3, at(6)))

        await store.remove_flows(["old"], CUTOFF)

        assert await store.memo_get("from-old") is None
        assert await store.memo_get("from-kept") is not None
        moved = await store.memo_get("moved")
        assert moved is not None and moved.outputs == {"out": 4}
        assert await store.memo_forget("s") == 1
        assert await store.memo_forget("t") == 1

    async def test_appends_go_on_while_flows_are_removed(self, store: EventStore) -> None:
        for n in range(20):
            await ended_flow(store, f"old{n}", 10)

        async def append_some(flow_id: str) -> None:
            await append_to(store, flow_aggregate(flow_id), [started(flow_id)], at(200))
            for _ in range(5):
                await append_to(store, flow_aggregate(flow_id), [skipped(flow_id)], at(201))

        async with asyncio.timeout(WAIT):
            removed, *_ = await asyncio.gather(
                store.remove_flows([f"old{n}" for n in range(20)], CUTOFF),
                *(append_some(f"new{n}") for n in range(5)),
            )

        assert sorted(removed) == sorted(f"old{n}" for n in range(20))
        assert [await store.version(f"flow:new{n}") for n in range(5)] == [6] * 5
        assert {event.aggregate for event in await store.read_all()} == {
            f"flow:new{n}" for n in range(5)
        }

    async def test_a_flow_still_compensating_is_neither_listed_nor_removed(
        self, store: EventStore
    ) -> None:
        await ended_flow(store, "undoing", 10, "failed", deactivated=False)
        flow = FlowID("undoing")

        assert await store.ended_flows(CUTOFF, 10) == []
        assert await store.remove_flows(["undoing"], CUTOFF) == []
        assert await store.version(flow_aggregate("undoing")) == 3

        deactivation = FlowDeactivated(flow, "failed")
        await append_to(store, flow_aggregate("undoing"), [deactivation], at(50))
        assert [it.id for it in await store.ended_flows(CUTOFF, 10)] == ["undoing"]
        assert await store.remove_flows(["undoing"], CUTOFF) == ["undoing"]

    async def test_a_removed_flow_leaves_queries_and_counts(self, store: EventStore) -> None:
        flow = FlowID("child")
        parent = ParentRef(FlowID("parent"), StepID("sub"), Token("t"))
        plan = Plan(goals=(StepID("g"),), required=(), steps={}, attributes={})
        opened = FlowStarted(flow, plan, {}, labels={"team": "a"}, parent=parent)
        await store.append(flow_aggregate("child"), 0, [opened], at(0))
        ending = [FlowCompleted(flow), FlowDeactivated(flow, "completed")]
        await append_to(store, flow_aggregate("child"), ending, at(10))
        before = await store.flow_counts()

        assert await store.remove_flows(["child"], CUTOFF) == ["child"]

        queries = [
            FlowQuery(labels={"team": "a"}),
            FlowQuery(goals=("g",)),
            FlowQuery(parent="parent"),
            FlowQuery(statuses=frozenset({FlowStatus.COMPLETED})),
            FlowQuery(),
        ]
        for query in queries:
            assert (await store.query_flows(query)).flows == [], query
        after = await store.flow_counts()
        assert after[FlowStatus.COMPLETED] == before[FlowStatus.COMPLETED] - 1

    async def test_a_closed_store_refuses_retention_calls(self, store: EventStore) -> None:
        await store.aclose()

        with pytest.raises(StoreError):
            await store.ended_flows(CUTOFF, 10)
        with pytest.raises(StoreError):
            await store.remove_flows(["old"], CUTOFF)
