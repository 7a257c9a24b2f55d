"""One contract suite for every event store backend, plus a few SQLite specifics.

A new backend joins by adding a param to the ``store`` fixture and a branch in
``store_url`` (or ``backend_url``, for one that needs a fixture: Redis).

Redis: see ``tests/redis_support.py`` and the fixtures in ``tests/conftest.py``;
"redis-cluster" starts a 3-master cluster from the ``redis-server`` binary once
per session.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from redis_support import HAVE_REDIS_BINARIES, IN_CI

from argyll.errors import StoreError, ValidationError, VersionConflict
from argyll.events import (
    CATALOG,
    Event,
    EventData,
    FlowCompleted,
    FlowFailed,
    FlowStarted,
    StepHealthChanged,
    StepSkipped,
    StepStarted,
    WorkRetryScheduled,
    flow_aggregate,
)
from argyll.model import FlowID, FlowStatus, FlowSummary, Plan, StepID, Token, parse_step
from argyll.store import EventStore, SQLiteEventStore, default_sqlite_url, open_store
from argyll.store.sqlite import sqlite_path

NOW = datetime(2024, 5, 1, 12, 30, 15, 123000, tzinfo=UTC)
EMPTY_PLAN = Plan(goals=(), required=(), steps={}, attributes={})
WAIT = 5.0
"""Seconds any single wait in these tests may take before it counts as a hang."""
REDIS_BACKENDS = ["redis", *(["redis-cluster"] if HAVE_REDIS_BINARIES or IN_CI else [])]
"""The cluster is only a param where it can start, or in CI, where its absence must fail."""


def store_url(backend: str, directory: Path) -> str:
    if backend == "memory":
        return "memory://"
    if backend == "sqlite":
        return f"sqlite:///{directory / 'events.db'}"
    raise AssertionError(f"no URL for backend {backend!r}")


def backend_url(request: pytest.FixtureRequest, backend: str, directory: Path) -> str:
    if backend == "redis":
        return str(request.getfixturevalue("redis_url"))
    if backend == "redis-cluster":
        return str(request.getfixturevalue("redis_cluster_url"))
    return store_url(backend, directory)


@pytest.fixture(params=["memory", "sqlite", *REDIS_BACKENDS])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EventStore]:
    async with open_store(backend_url(request, request.param, tmp_path)) as opened:
        yield opened


def started(flow_id: str, **init: object) -> FlowStarted:
    return FlowStarted(FlowID(flow_id), EMPTY_PLAN, init)


def skipped(flow_id: str, reason: str = "not needed", step_id: str = "s") -> StepSkipped:
    return StepSkipped(FlowID(flow_id), StepID(step_id), reason)


def at(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


async def append_to(
    store: EventStore, aggregate: str, events: Sequence[EventData], timestamp: datetime = NOW
) -> list[Event]:
    """Append at the aggregate's current version."""
    return await store.append(aggregate, await store.version(aggregate), events, timestamp)


async def take(events: AsyncIterator[Event], count: int) -> list[Event]:
    taken: list[Event] = []
    async with asyncio.timeout(WAIT):
        async for event in events:
            taken.append(event)
            if len(taken) == count:
                break
    return taken


# -------------------------------------------------------------------- append


async def test_append_returns_envelopes_numbered_after_expected(store: EventStore) -> None:
    first = await store.append("flow:a", 0, [started("a")], NOW)
    later = at(1)
    events = [skipped("a", "x"), skipped("a", "y")]

    appended = await store.append("flow:a", 1, events, later)

    assert [event.seq for event in first + appended] == [1, 2, 3]
    assert all(event.aggregate == "flow:a" for event in appended)
    assert [event.timestamp for event in appended] == [later, later]
    assert [event.data for event in appended] == events
    assert all(event.position for event in first + appended)


async def test_an_empty_batch_writes_nothing(store: EventStore) -> None:
    await store.append("flow:a", 0, [started("a")], NOW)

    assert await store.append("flow:a", 1, [], NOW) == []
    assert await store.version("flow:a") == 1


async def test_read_gives_events_in_order_and_after_a_seq(store: EventStore) -> None:
    appended = await store.append("flow:a", 0, [skipped("a", str(n)) for n in range(5)], NOW)
    await store.append("flow:b", 0, [skipped("b")], NOW)

    assert await store.read("flow:a") == appended
    assert await store.read("flow:a", after=3) == appended[3:]
    assert await store.read("flow:a", after=5) == []
    assert await store.read("flow:missing") == []


async def test_version_is_the_last_seq(store: EventStore) -> None:
    assert await store.version("flow:a") == 0
    await store.append("flow:a", 0, [skipped("a"), skipped("a")], NOW)
    await store.append("flow:a", 2, [skipped("a")], NOW)

    assert await store.version("flow:a") == 3
    assert await store.version("flow:b") == 0


@pytest.mark.parametrize("stale", [0, 1, 5])
async def test_a_stale_append_is_refused_and_writes_nothing(store: EventStore, stale: int) -> None:
    before = await store.append("flow:a", 0, [started("a"), skipped("a")], NOW)
    head = await store.head()

    with pytest.raises(VersionConflict) as raised:
        await store.append("flow:a", stale, [skipped("a", "late"), FlowCompleted(FlowID("a"))], NOW)

    assert (raised.value.aggregate, raised.value.expected, raised.value.actual) == (
        "flow:a",
        stale,
        2,
    )
    assert await store.read("flow:a") == before
    assert await store.head() == head
    summary = await store.flow_summary("a")
    assert summary is not None and summary.status is FlowStatus.ACTIVE


async def test_readers_never_see_part_of_a_batch(store: EventStore) -> None:
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


async def test_racing_appenders_lose_and_duplicate_nothing(store: EventStore) -> None:
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


async def test_a_conflict_does_not_fail_concurrent_appends(store: EventStore) -> None:
    await store.append("flow:stale", 0, [skipped("stale")], NOW)
    appends = [store.append(f"flow:{n}", 0, [skipped(str(n))], NOW) for n in range(10)]
    appends.insert(5, store.append("flow:stale", 0, [skipped("stale", "again")], NOW))

    async with asyncio.timeout(WAIT):
        outcomes = await asyncio.gather(*appends, return_exceptions=True)

    assert isinstance(outcomes.pop(5), VersionConflict)
    assert all(isinstance(outcome, list) and len(outcome) == 1 for outcome in outcomes)
    assert await store.version("flow:stale") == 1
    assert [await store.version(f"flow:{n}") for n in range(10)] == [1] * 10


# --------------------------------------------------------------- global feed


async def test_the_feed_orders_events_across_aggregates(store: EventStore) -> None:
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


@pytest.mark.parametrize("position", ["nonsense", "-1", "²"])
async def test_a_position_from_elsewhere_is_refused(store: EventStore, position: str) -> None:
    with pytest.raises(ValidationError):
        await store.read_all(after=position)
    with pytest.raises(ValidationError):
        store.subscribe(position)


async def test_read_all_pages_with_a_limit(store: EventStore) -> None:
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
    store: EventStore,
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


async def test_a_subscription_sees_batches_appended_between_reads(store: EventStore) -> None:
    async with aclosing(store.subscribe("")) as feed:
        for n in range(3):
            appended = await append_to(store, "flow:a", [skipped("a", str(n))] * 3)
            assert await take(feed, 3) == appended


async def test_a_subscription_from_now_gets_only_new_events(store: EventStore) -> None:
    await append_to(store, "flow:a", [skipped("a"), skipped("a")])

    async with aclosing(store.subscribe(None)) as feed:
        appended = await append_to(store, "flow:a", [skipped("a", "new")])
        appended += await append_to(store, "flow:b", [skipped("b", "new")])

        assert await take(feed, 2) == appended


async def test_closing_the_store_ends_its_subscriptions(store: EventStore) -> None:
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


# ---------------------------------------------------------------- flow index


async def test_the_flow_index_follows_a_flow_to_completion(store: EventStore) -> None:
    await store.append("flow:a", 0, [started("a"), skipped("a")], at(0))
    assert await store.flow_summary("a") == FlowSummary(FlowID("a"), FlowStatus.ACTIVE, at(0))

    await store.append("flow:a", 2, [FlowCompleted(FlowID("a"))], at(3))

    summary = await store.flow_summary("a")
    assert summary == FlowSummary(FlowID("a"), FlowStatus.COMPLETED, at(0), at(3))


async def test_the_flow_index_records_a_failure_and_its_error(store: EventStore) -> None:
    await store.append("flow:a", 0, [started("a"), FlowFailed(FlowID("a"), "step s failed")], at(1))

    summary = await store.flow_summary("a")
    assert summary == FlowSummary(FlowID("a"), FlowStatus.FAILED, at(1), at(1), "step s failed")


async def test_the_flow_index_ignores_other_events_and_unknown_flows(store: EventStore) -> None:
    await store.append("flow:a", 0, [skipped("a"), FlowCompleted(FlowID("a"))], NOW)

    assert await store.flow_summary("a") is None
    assert await store.list_flows() == []


async def test_list_flows_is_newest_first_filtered_and_limited(store: EventStore) -> None:
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


async def test_list_flows_breaks_ties_by_descending_id(store: EventStore) -> None:
    for flow_id in ["m", "z", "a"]:
        await store.append(flow_aggregate(flow_id), 0, [started(flow_id)], NOW)

    assert [flow.id for flow in await store.list_flows()] == ["z", "m", "a"]


# ---------------------------------------------------------------- round trip


def rich_events() -> list[EventData]:
    step = parse_step(
        {
            "id": "greet",
            "type": "sync",
            "http": {"endpoint": "http://localhost:9/greet"},
            "attributes": {
                "name": {"role": "required", "type": "string"},
                "greeting": {"role": "output"},
            },
        }
    )
    plan = Plan(goals=(step.id,), required=("name",), steps={step.id: step}, attributes={})
    nested = {"list": [1, 2.5, None, True, {"deep": ["x"]}], "text": "héllo, 世界 🌍", "n": -3}
    return [
        FlowStarted(FlowID("r"), plan, {"name": "Zoë", "nested": nested}),
        StepStarted(FlowID("r"), step.id, {"name": "Zoë"}, {Token("t1"): {"name": "Zoë"}}),
        WorkRetryScheduled(FlowID("r"), step.id, Token("t1"), 2, at(0.5)),
        StepSkipped(FlowID("r"), StepID("other"), 'predicate said "no"\n'),
    ]


async def test_events_round_trip_exactly(store: EventStore) -> None:
    moment = datetime(2024, 2, 29, 23, 59, 59, 999000, tzinfo=UTC)
    appended = await store.append("flow:r", 0, rich_events(), moment)

    assert await store.read("flow:r") == appended
    assert await store.read_all() == appended
    assert [event.data for event in appended] == rich_events()
    assert all(event.timestamp == moment for event in appended)


# -------------------------------------------------------------------- SQLite


async def test_a_snapshot_is_read_back_and_a_newer_one_replaces_it(store: EventStore) -> None:
    assert await store.load_snapshot("flow:f") is None
    await store.save_snapshot("flow:f", 100, {"id": "f", "attributes": {"x": [1, "ü"]}})
    assert await store.load_snapshot("flow:f") == (
        100,
        {"id": "f", "attributes": {"x": [1, "ü"]}},
    )
    await store.save_snapshot("flow:f", 200, {"id": "f"})
    assert await store.load_snapshot("flow:f") == (200, {"id": "f"})
    assert await store.load_snapshot("flow:other") is None


async def test_sqlite_keeps_everything_across_a_reopen(tmp_path: Path) -> None:
    url = store_url("sqlite", tmp_path)
    async with open_store(url) as first:
        appended = await first.append("flow:r", 0, rich_events(), NOW)
        appended += await first.append("flow:r", 4, [FlowCompleted(FlowID("r"))], at(2))
        flows = await first.list_flows()
        head = await first.head()

    async with open_store(url) as second:
        assert await second.read_all() == appended
        assert await second.version("flow:r") == 5
        assert await second.list_flows() == flows
        assert flows[0].status is FlowStatus.COMPLETED
        assert await second.head() == head
        more = await second.append("flow:r", 5, [skipped("r")], NOW)
        assert int(more[0].position) > int(head)


async def test_sqlite_uses_wal_and_creates_missing_directories(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "argyll.db"
    async with open_store(f"sqlite:///{path}"):
        assert path.exists()
        with sqlite3.connect(path) as connection:
            assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert connection.execute("PRAGMA user_version").fetchone()[0] >= 1


async def test_sqlite_refuses_a_database_from_a_newer_argyll(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA user_version = 999")

    with pytest.raises(StoreError):
        await open_store(f"sqlite:///{path}")


async def test_sqlite_sees_appends_of_another_connection(tmp_path: Path) -> None:
    url = store_url("sqlite", tmp_path)
    async with open_store(url) as mine, open_store(url) as theirs:
        await mine.append("flow:a", 0, [skipped("a")], NOW)
        async with aclosing(mine.subscribe(await mine.head())) as feed:
            appended = await theirs.append("flow:b", 0, [skipped("b")], NOW)
            assert await take(feed, 1) == appended
        with pytest.raises(VersionConflict):
            await theirs.append("flow:a", 0, [skipped("a")], NOW)


async def test_sqlite_fails_a_malformed_append_alone(tmp_path: Path) -> None:
    """Appends queued together share a transaction; one that breaks it must not sink the rest."""
    malformed = FlowStarted(FlowID(["not", "an", "id"]), EMPTY_PLAN, {})  # type: ignore[arg-type]
    async with open_store(store_url("sqlite", tmp_path)) as store:
        appends = [store.append(f"flow:{n}", 0, [started(str(n))], NOW) for n in range(6)]
        appends.insert(3, store.append("flow:bad", 0, [malformed], NOW))

        async with asyncio.timeout(WAIT):
            outcomes = await asyncio.gather(*appends, return_exceptions=True)

        assert isinstance(outcomes.pop(3), StoreError)
        assert all(isinstance(outcome, list) for outcome in outcomes)
        assert await store.version("flow:bad") == 0
        assert len(await store.list_flows()) == 6


async def test_sqlite_in_memory_database_works() -> None:
    async with open_store("sqlite:///:memory:") as store:
        appended = await store.append("flow:a", 0, [started("a")], NOW)
        assert await store.read_all() == appended
        assert isinstance(store, SQLiteEventStore)


def test_sqlite_urls_name_relative_absolute_and_memory_paths() -> None:
    assert sqlite_path("sqlite:///data/argyll.db") == "data/argyll.db"
    assert sqlite_path("sqlite:////var/lib/argyll.db") == "/var/lib/argyll.db"
    assert sqlite_path("sqlite:///:memory:") == ":memory:"
    assert sqlite_path("sqlite:///~/argyll.db") == str(Path.home() / "argyll.db")
    for bad in ["sqlite://", "sqlite:///", "sqlite://host/argyll.db"]:
        with pytest.raises(ValidationError):
            sqlite_path(bad)


def test_an_unknown_scheme_is_a_validation_error() -> None:
    with pytest.raises(ValidationError) as raised:
        open_store("postgres://localhost/argyll")
    assert [field for field, _ in raised.value.problems] == ["store"]


def test_the_default_url_lives_under_argyll_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ARGYLL_HOME", str(tmp_path))
    assert default_sqlite_url() == f"sqlite:///{tmp_path}/argyll.db"
    monkeypatch.delenv("ARGYLL_HOME")
    assert default_sqlite_url() == f"sqlite:///{Path.home()}/.argyll/argyll.db"


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
async def test_a_store_can_be_awaited_and_closed_by_hand(backend: str, tmp_path: Path) -> None:
    store = await open_store(store_url(backend, tmp_path))
    await store.aclose()
    with pytest.raises(StoreError):
        await store.read_all()
