"""The suites of the stream, feed, flow index, snapshot, lease and lifecycle roles."""

# ruff: noqa: S101 — pytest suites: a failed assert is how a backend fails the contract; "token" arguments are work-item names, not passwords

from __future__ import annotations

import asyncio
from contextlib import aclosing
from datetime import UTC, datetime
from typing import Any

import pytest

from argyll import codec
from argyll.errors import StoreError, ValidationError, VersionConflict
from argyll.events import (
    CATALOG,
    Event,
    EventData,
    FlowCanceled,
    FlowCompleted,
    FlowFailed,
    FlowPaused,
    FlowResumed,
    FlowRetried,
    FlowStarted,
    StepHealthChanged,
    flow_aggregate,
)
from argyll.model import FlowID, FlowStatus, FlowSummary, ParentRef, StepID, Token
from argyll.store.base import EventStore
from argyll.store.contract.support import (
    EMPTY_PLAN,
    NOW,
    WAIT,
    Suite,
    append_to,
    at,
    rich_events,
    skipped,
    stale_batch,
    started,
    take,
)

UNWANTED_RUN = 600
"""Unwanted entries in a row, more than a store reads of the feed at once."""


def _decoded_types(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The types of the events ``argyll.codec.decode`` is asked for from here on."""
    decoded: list[str] = []
    decode = codec.decode

    def counting(event_type: str, *args: Any, **kwargs: Any) -> EventData:
        decoded.append(event_type)
        return decode(event_type, *args, **kwargs)

    monkeypatch.setattr(codec, "decode", counting)
    return decoded


# ------------------------------------------------------------------- streams


class StreamsContract(Suite):
    """append, read, version: optimistic, atomic, gapless per aggregate."""

    async def test_append_returns_envelopes_numbered_after_expected(
        self, store: EventStore
    ) -> None:
        first = await store.append("flow:a", 0, [started("a")], NOW)
        later = at(1)
        events = [skipped("a", "x"), skipped("a", "y")]

        appended = await store.append("flow:a", 1, events, later)

        assert [event.seq for event in first + appended] == [1, 2, 3]
        assert all(event.aggregate == "flow:a" for event in appended)
        assert [event.timestamp for event in appended] == [later, later]
        assert [event.data for event in appended] == events
        assert all(event.position for event in first + appended)

    async def test_an_empty_batch_writes_nothing(self, store: EventStore) -> None:
        await store.append("flow:a", 0, [started("a")], NOW)

        assert await store.append("flow:a", 1, [], NOW) == []
        assert await store.version("flow:a") == 1

    async def test_read_gives_events_in_order_and_after_a_seq(self, store: EventStore) -> None:
        appended = await store.append("flow:a", 0, [skipped("a", str(n)) for n in range(5)], NOW)
        await store.append("flow:b", 0, [skipped("b")], NOW)

        assert await store.read("flow:a") == appended
        assert await store.read("flow:a", after=3) == appended[3:]
        assert await store.read("flow:a", after=5) == []
        assert await store.read("flow:missing") == []

    async def test_read_many_reads_each_aggregate_after_its_own_version(
        self, store: EventStore
    ) -> None:
        a = await store.append("flow:a", 0, [skipped("a", str(n)) for n in range(3)], NOW)
        b = await store.append("flow:b", 0, [skipped("b")], NOW)
        await store.append("flow:c", 0, [skipped("c")], NOW)

        found = await store.read_many({"flow:a": 1, "flow:b": 0, "flow:c": 1, "flow:none": 0})

        assert found == {"flow:a": a[1:], "flow:b": b}
        assert await store.read_many({}) == {}

    async def test_version_is_the_last_seq(self, store: EventStore) -> None:
        assert await store.version("flow:a") == 0
        await store.append("flow:a", 0, [skipped("a"), skipped("a")], NOW)
        await store.append("flow:a", 2, [skipped("a")], NOW)

        assert await store.version("flow:a") == 3
        assert await store.version("flow:b") == 0

    @pytest.mark.parametrize("stale", [0, 1, 5])
    async def test_a_stale_append_is_refused_and_writes_nothing(
        self, store: EventStore, stale: int
    ) -> None:
        before = await store.append("flow:a", 0, [started("a"), skipped("a")], NOW)

        with pytest.raises(VersionConflict) as raised:
            await store.append("flow:a", stale, stale_batch(), NOW)

        assert (raised.value.aggregate, raised.value.expected, raised.value.actual) == (
            "flow:a",
            stale,
            2,
        )
        assert await store.read("flow:a") == before

    async def test_readers_never_see_part_of_a_batch(self, store: EventStore) -> None:
        batch = 4

        async def write() -> None:
            for round_ in range(25):
                await store.append("flow:a", round_ * batch, [skipped("a")] * batch, NOW)

        async def read_while(writing: asyncio.Task[None]) -> set[int]:
            seen = set()
            while not writing.done():
                seen.add(len(await store.read("flow:a")))
                seen.add(await store.version("flow:a"))
                await asyncio.sleep(0)
            return seen

        async with asyncio.timeout(WAIT):
            writing = asyncio.create_task(write())
            seen = await read_while(writing)
            await writing

        assert all(count % batch == 0 for count in seen)
        assert await store.version("flow:a") == 100

    async def test_racing_appenders_lose_and_duplicate_nothing(self, store: EventStore) -> None:
        conflicts = 0

        async def append_one(task: int) -> None:
            nonlocal conflicts
            while True:
                version = await store.version("flow:a")
                await asyncio.sleep(0)  # let the other tasks read the same version
                try:
                    await store.append("flow:a", version, [skipped("a", f"task {task}")], NOW)
                    return
                except VersionConflict:
                    conflicts += 1

        async with asyncio.timeout(WAIT):
            await asyncio.gather(*(append_one(task) for task in range(20)))

        events = await store.read("flow:a")
        assert [event.seq for event in events] == list(range(1, 21))
        assert sorted(event.data.reason for event in events) == sorted(  # type: ignore[attr-defined]
            f"task {task}" for task in range(20)
        )
        assert conflicts > 0

    async def test_a_conflict_does_not_fail_concurrent_appends(self, store: EventStore) -> None:
        await store.append("flow:stale", 0, [skipped("stale")], NOW)
        appends = [store.append(f"flow:{n}", 0, [skipped(str(n))], NOW) for n in range(10)]
        appends.insert(5, store.append("flow:stale", 0, [skipped("stale", "again")], NOW))

        async with asyncio.timeout(WAIT):
            outcomes = await asyncio.gather(*appends, return_exceptions=True)

        assert isinstance(outcomes.pop(5), VersionConflict)
        assert all(isinstance(outcome, list) and len(outcome) == 1 for outcome in outcomes)
        assert await store.version("flow:stale") == 1
        assert [await store.version(f"flow:{n}") for n in range(10)] == [1] * 10

    async def test_events_round_trip_exactly(self, store: EventStore) -> None:
        moment = datetime(2024, 2, 29, 23, 59, 59, 999000, tzinfo=UTC)
        appended = await store.append("flow:r", 0, rich_events(), moment)

        assert await store.read("flow:r") == appended
        assert [event.data for event in appended] == rich_events()
        assert all(event.timestamp == moment for event in appended)


# ---------------------------------------------------------------------- feed


class FeedContract(Suite):
    """read_all, subscribe, head: one order over every aggregate, history then live."""

    async def test_the_feed_orders_events_across_aggregates(self, store: EventStore) -> None:
        assert await store.head() == ""
        assert await store.read_all() == []
        appended: list[Event] = []
        appended += await append_to(store, "flow:a", [skipped("a", "1")])
        appended += await append_to(store, "flow:b", [skipped("b", "2")])
        appended += await append_to(store, "flow:a", [skipped("a", "3")])
        appended += await append_to(store, CATALOG, [StepHealthChanged(StepID("s"), "healthy")])

        feed = await store.read_all()

        assert feed == appended
        assert len({event.position for event in feed}) == 4
        assert await store.head() == feed[-1].position
        assert await store.read_all(after=feed[1].position) == feed[2:]
        assert await store.read_all(after=feed[-1].position) == []

    @pytest.mark.parametrize("stale", [0, 1, 5])
    async def test_a_stale_append_adds_nothing_to_the_feed(
        self, store: EventStore, stale: int
    ) -> None:
        await store.append("flow:a", 0, [started("a"), skipped("a")], NOW)
        head = await store.head()

        with pytest.raises(VersionConflict):
            await store.append("flow:a", stale, stale_batch(), NOW)

        assert await store.head() == head

    @pytest.mark.parametrize("position", ["nonsense", "-1", "²"])
    async def test_a_position_from_elsewhere_is_refused(
        self, store: EventStore, position: str
    ) -> None:
        with pytest.raises(ValidationError):
            await store.read_all(after=position)
        with pytest.raises(ValidationError):
            store.subscribe(position)

    async def test_read_all_pages_with_a_limit(self, store: EventStore) -> None:
        for n in range(7):
            await append_to(store, f"flow:{n % 3}", [skipped(str(n)), skipped(str(n))])

        pages: list[list[Event]] = []
        position = ""
        while page := await store.read_all(after=position, limit=3):
            pages.append(page)
            position = page[-1].position

        assert [len(page) for page in pages] == [3, 3, 3, 3, 2]
        assert [event for page in pages for event in page] == await store.read_all()

    async def test_a_subscription_from_the_start_gets_history_then_live_events(
        self, store: EventStore
    ) -> None:
        for _ in range(5):
            await append_to(store, "flow:a", [skipped("a")])

        async def write_live() -> None:
            for n in range(20):
                await append_to(store, f"flow:{n % 2}", [skipped(str(n))])

        received: list[Event] = []
        async with aclosing(store.subscribe("")) as feed, asyncio.timeout(WAIT):
            async for event in feed:
                received.append(event)
                if len(received) == 2:
                    writing = asyncio.create_task(write_live())
                if len(received) == 25:
                    break
            await writing

        assert received == await store.read_all()
        assert len({event.position for event in received}) == 25

    async def test_a_subscription_sees_batches_appended_between_reads(
        self, store: EventStore
    ) -> None:
        async with aclosing(store.subscribe("")) as feed:
            for n in range(3):
                appended = await append_to(store, "flow:a", [skipped("a", str(n))] * 3)
                assert await take(feed, 3) == appended

    async def test_a_subscription_from_now_gets_only_new_events(self, store: EventStore) -> None:
        await append_to(store, "flow:a", [skipped("a"), skipped("a")])

        async with aclosing(store.subscribe(None)) as feed:
            appended = await append_to(store, "flow:a", [skipped("a", "new")])
            appended += await append_to(store, "flow:b", [skipped("b", "new")])

            assert await take(feed, 2) == appended

    async def test_events_round_trip_exactly_through_the_feed(self, store: EventStore) -> None:
        moment = datetime(2024, 2, 29, 23, 59, 59, 999000, tzinfo=UTC)
        appended = await store.append("flow:r", 0, rich_events(), moment)

        assert await store.read_all() == appended

    async def test_a_subscription_yields_only_the_entries_it_wants_never_decoding_the_rest(
        self, store: EventStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        decoded = _decoded_types(monkeypatch)
        asked: list[tuple[str, str]] = []

        def wanted(aggregate: str, event_type: str) -> bool:
            asked.append((aggregate, event_type))
            return aggregate == "flow:a"

        first = await append_to(store, "flow:a", [started("a")])
        for _ in range(UNWANTED_RUN // 100):  # more than one page of the feed, none wanted
            await append_to(store, "flow:noise", [skipped("noise")] * 100)
        first += await append_to(store, "flow:a", [skipped("a", "1"), skipped("a", "2")])

        async with aclosing(store.subscribe("", wanted)) as feed:
            assert await take(feed, 3) == first
            await append_to(store, "flow:noise", [skipped("noise")] * 3)
            await append_to(store, CATALOG, [StepHealthChanged(StepID("s"), "healthy")])
            live = await append_to(store, "flow:a", [skipped("a", "live")])
            assert await take(feed, 1) == live

        assert [aggregate for aggregate, _ in asked[:2]] == ["flow:a", "flow:noise"]
        assert ("flow:noise", "step_skipped") in asked and (CATALOG, "step_health_changed") in asked
        assert "step_health_changed" not in decoded
        assert decoded.count("step_skipped") <= 3  # flow:a's own, at most

    async def test_a_subscription_resumes_after_a_wanted_entry(self, store: EventStore) -> None:
        await append_to(store, "flow:a", [started("a")])
        await append_to(store, "flow:b", [started("b"), *[skipped("b")] * 3])
        later = await append_to(store, "flow:a", [skipped("a")])

        def only_a(aggregate: str, event_type: str) -> bool:
            return aggregate == "flow:a"

        async with aclosing(store.subscribe("", only_a)) as feed:
            (start,) = await take(feed, 1)
        async with aclosing(store.subscribe(start.position, only_a)) as feed:
            assert await take(feed, 1) == later


# ---------------------------------------------------------------- flow index


class FlowIndexContract(Suite):
    """list_flows, flow_summary: rows made by ``argyll.flow_index.summarize`` as flows go."""

    async def test_the_flow_index_follows_a_flow_to_completion(self, store: EventStore) -> None:
        await store.append("flow:a", 0, [started("a"), skipped("a")], at(0))
        assert await store.flow_summary("a") == FlowSummary(FlowID("a"), FlowStatus.ACTIVE, at(0))

        await store.append("flow:a", 2, [FlowCompleted(FlowID("a"))], at(3))

        summary = await store.flow_summary("a")
        assert summary == FlowSummary(FlowID("a"), FlowStatus.COMPLETED, at(0), at(3))

    async def test_the_flow_index_records_a_failure_and_its_error(self, store: EventStore) -> None:
        failed = FlowFailed(FlowID("a"), "step s failed")
        await store.append("flow:a", 0, [started("a"), failed], at(1))

        summary = await store.flow_summary("a")
        assert summary == FlowSummary(FlowID("a"), FlowStatus.FAILED, at(1), at(1), "step s failed")

    async def test_the_flow_index_follows_an_operated_flow(self, store: EventStore) -> None:
        flow = FlowID("a")
        await store.append("flow:a", 0, [started("a"), FlowPaused(flow, "ann")], at(0))
        assert await store.flow_summary("a") == FlowSummary(flow, FlowStatus.PAUSED, at(0))
        assert [f.id for f in await store.list_flows(FlowStatus.PAUSED)] == ["a"]
        assert await store.list_flows(FlowStatus.ACTIVE) == []

        await store.append("flow:a", 2, [FlowResumed(flow), FlowCanceled(flow)], at(2))
        summary = FlowSummary(flow, FlowStatus.CANCELED, at(0), at(2))
        assert await store.flow_summary("a") == summary
        assert [f.id for f in await store.list_flows(FlowStatus.CANCELED)] == ["a"]

        await store.append("flow:a", 4, [FlowRetried(flow, ())], at(3))
        assert await store.flow_summary("a") == FlowSummary(flow, FlowStatus.ACTIVE, at(0))
        assert await store.list_flows(FlowStatus.CANCELED) == []
        await store.append("flow:a", 5, [FlowFailed(flow, "x")], at(4))
        await store.append("flow:a", 6, [FlowRetried(flow, ())], at(5))
        assert await store.flow_summary("a") == FlowSummary(flow, FlowStatus.ACTIVE, at(0))
        assert [f.id for f in await store.list_flows()] == ["a"]

    async def test_the_flow_index_ignores_other_events_and_unknown_flows(
        self, store: EventStore
    ) -> None:
        await store.append("flow:a", 0, [skipped("a"), FlowCompleted(FlowID("a"))], NOW)

        assert await store.flow_summary("a") is None
        assert await store.list_flows() == []

    @pytest.mark.parametrize("stale", [0, 1, 5])
    async def test_a_stale_append_leaves_the_index_alone(
        self, store: EventStore, stale: int
    ) -> None:
        await store.append("flow:a", 0, [started("a"), skipped("a")], NOW)

        with pytest.raises(VersionConflict):
            await store.append("flow:a", stale, stale_batch(), NOW)

        summary = await store.flow_summary("a")
        assert summary is not None and summary.status is FlowStatus.ACTIVE

    async def test_list_flows_is_newest_first_filtered_and_limited(self, store: EventStore) -> None:
        for n, flow_id in enumerate(["a", "b", "c", "d"]):
            await store.append(flow_aggregate(flow_id), 0, [started(flow_id)], at(n))
        await store.append("flow:b", 1, [FlowCompleted(FlowID("b"))], at(10))
        await store.append("flow:c", 1, [FlowFailed(FlowID("c"), "boom")], at(11))

        async def ids(status: FlowStatus | None = None, limit: int | None = None) -> list[str]:
            return [flow.id for flow in await store.list_flows(status, limit)]

        assert await ids() == ["d", "c", "b", "a"]
        assert await ids(limit=2) == ["d", "c"]
        assert await ids(FlowStatus.ACTIVE) == ["d", "a"]
        assert await ids(FlowStatus.ACTIVE, limit=1) == ["d"]
        assert await ids(FlowStatus.COMPLETED) == ["b"]
        assert await ids(FlowStatus.FAILED) == ["c"]
        assert await store.flow_summary("missing") is None

    async def test_flows_keep_their_labels_and_are_listed_by_them(self, store: EventStore) -> None:
        teams = {"a": {"team": "billing", "tier": "1"}, "b": {"team": "billing"}, "c": {}}
        for n, (flow_id, labels) in enumerate(teams.items()):
            start = FlowStarted(FlowID(flow_id), EMPTY_PLAN, {}, labels=labels)
            await store.append(flow_aggregate(flow_id), 0, [start], at(n))
        await store.append("flow:a", 1, [FlowPaused(FlowID("a"))], at(5))
        await store.append("flow:b", 1, [FlowFailed(FlowID("b"), "x")], at(6))

        summary = await store.flow_summary("a")
        assert summary is not None and summary.labels == teams["a"]
        failed = await store.flow_summary("b")
        assert failed is not None and failed.labels == teams["b"]

        async def ids(status: FlowStatus | None = None, **labels: str) -> list[str]:
            return [flow.id for flow in await store.list_flows(status, None, labels)]

        assert await ids(team="billing") == ["b", "a"]
        assert await ids(team="billing", tier="1") == ["a"]
        assert await ids(FlowStatus.FAILED, team="billing") == ["b"]
        assert await ids(team="sales") == []
        assert [f.id for f in await store.list_flows(None, 1, {"team": "billing"})] == ["b"]

    async def test_a_child_flows_row_names_its_parent(self, store: EventStore) -> None:
        parent = ParentRef(FlowID("p"), StepID("sub"), Token("t1"))
        await store.append("flow:p", 0, [started("p")], at(0))
        await store.append(
            "flow:c", 0, [FlowStarted(FlowID("c"), EMPTY_PLAN, {}, parent=parent)], at(1)
        )
        await store.append("flow:c", 1, [FlowCanceled(FlowID("c"))], at(2))

        summary = FlowSummary(FlowID("c"), FlowStatus.CANCELED, at(1), at(2), parent=FlowID("p"))
        assert await store.flow_summary("c") == summary
        assert [f.parent for f in await store.list_flows()] == [FlowID("p"), None]

    async def test_list_flows_breaks_ties_by_descending_id(self, store: EventStore) -> None:
        for flow_id in ["m", "z", "a"]:
            await store.append(flow_aggregate(flow_id), 0, [started(flow_id)], NOW)

        assert [flow.id for flow in await store.list_flows()] == ["z", "m", "a"]


# ----------------------------------------------------------------- snapshots


class SnapshotsContract(Suite):
    """save_snapshot, load_snapshot: the latest state saved per aggregate, as JSON values."""

    async def test_a_snapshot_is_read_back_and_a_newer_one_replaces_it(
        self, store: EventStore
    ) -> None:
        assert await store.load_snapshot("flow:f") is None
        await store.save_snapshot("flow:f", 100, {"id": "f", "attributes": {"x": [1, "ü"]}})
        assert await store.load_snapshot("flow:f") == (
            100,
            {"id": "f", "attributes": {"x": [1, "ü"]}},
        )
        await store.save_snapshot("flow:f", 200, {"id": "f"})
        assert await store.load_snapshot("flow:f") == (200, {"id": "f"})
        assert await store.load_snapshot("flow:other") is None

    async def test_snapshots_load_a_batch_at_once(self, store: EventStore) -> None:
        await store.save_snapshot("flow:f", 100, {"id": "f"})
        await store.save_snapshot("flow:g", 300, {"id": "g", "n": [1]})

        found = await store.load_snapshots(["flow:f", "flow:none", "flow:g"])

        assert found == {"flow:f": (100, {"id": "f"}), "flow:g": (300, {"id": "g", "n": [1]})}
        assert await store.load_snapshots([]) == {}


# -------------------------------------------------------------------- leases


class LeasesContract(Suite):
    """heartbeat, live_instances, retire: who is alive, by heartbeats that lapse."""

    async def test_an_instance_is_live_while_its_heartbeat_lasts(self, store: EventStore) -> None:
        assert await store.live_instances() == set()
        await store.heartbeat("engine-1", 60.0)
        await store.heartbeat("engine-2", 60.0)

        assert await store.live_instances() == {"engine-1", "engine-2"}

    async def test_a_lapsed_heartbeat_is_not_live_and_a_new_one_renews_it(
        self, store: EventStore
    ) -> None:
        await store.heartbeat("engine-1", 60.0)
        await store.heartbeat("engine-2", 0.0)  # lapses as it is given

        assert await store.live_instances() == {"engine-1"}
        await store.heartbeat("engine-2", 60.0)
        assert await store.live_instances() == {"engine-1", "engine-2"}

    async def test_a_retired_instance_is_not_live(self, store: EventStore) -> None:
        await store.heartbeat("engine-1", 60.0)
        await store.heartbeat("engine-2", 60.0)

        await store.retire("engine-1")
        await store.retire("never-seen")

        assert await store.live_instances() == {"engine-2"}


# ----------------------------------------------------------------- lifecycle


class LifecycleContract(Suite):
    """aclose: subscriptions end, later calls raise StoreError."""

    async def test_closing_the_store_ends_its_subscriptions(self, store: EventStore) -> None:
        history = await append_to(store, "flow:a", [skipped("a"), skipped("a")])
        caught_up = asyncio.Event()
        received: list[Event] = []

        async def follow() -> None:
            async for event in store.subscribe(""):
                received.append(event)
                if len(received) == len(history):
                    caught_up.set()

        async with asyncio.timeout(WAIT):
            following = asyncio.create_task(follow())
            await caught_up.wait()
            await store.aclose()
            await following

        assert received == history
        with pytest.raises(StoreError):
            await store.append("flow:a", 2, [skipped("a")], NOW)

    async def test_a_closed_store_refuses_reads_and_closes_once(self, store: EventStore) -> None:
        await store.aclose()
        await store.aclose()

        with pytest.raises(StoreError):
            await store.read("flow:a")
        with pytest.raises(StoreError):
            await store.read_all()
        with pytest.raises(StoreError):
            await store.flow_summary("a")
