"""What the SQLite store promises beyond the contract: durability, WAL, other
connections, group commit that fails a bad append alone, URL paths, and reading
databases written by earlier versions of argyll.
"""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import aclosing
from pathlib import Path
from typing import Any

import pytest

from argyll import codec
from argyll.errors import StoreError, ValidationError, VersionConflict
from argyll.events import EventData, FlowCompleted, FlowStarted, StepSkipped
from argyll.model import FlowID, FlowStatus, StepID
from argyll.store import SQLiteEventStore, open_store
from argyll.store.contract import EMPTY_PLAN, NOW, WAIT, at, rich_events, skipped, started, take
from argyll.store.sqlite import SCHEMA_VERSION, sqlite_path
from argyll.testing import wait_until

SCHEMA_V1 = (
    """CREATE TABLE events (
        position INTEGER PRIMARY KEY AUTOINCREMENT,
        aggregate TEXT NOT NULL,
        seq INTEGER NOT NULL,
        type TEXT NOT NULL,
        timestamp TEXT NOT NULL,
        data TEXT NOT NULL,
        UNIQUE (aggregate, seq)
    )""",
    """CREATE TABLE flows (
        id TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        created_at TEXT NOT NULL,
        completed_at TEXT,
        error TEXT
    )""",
    "CREATE INDEX flows_by_status ON flows (status, created_at)",
    "CREATE TABLE instances (id TEXT PRIMARY KEY, expires REAL NOT NULL)",
    "CREATE TABLE snapshots (aggregate TEXT PRIMARY KEY, version INTEGER NOT NULL, state TEXT)",
    "PRAGMA user_version = 1",
)
"""The schema argyll wrote before events carried a schema version, as it was."""


def store_url(directory: Path) -> str:
    return f"sqlite:///{directory / 'events.db'}"


async def test_sqlite_keeps_everything_across_a_reopen(tmp_path: Path) -> None:
    url = store_url(tmp_path)
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
    url = store_url(tmp_path)
    async with open_store(url) as mine, open_store(url) as theirs:
        await mine.append("flow:a", 0, [skipped("a")], NOW)
        async with aclosing(mine.subscribe(await mine.head())) as feed:
            appended = await theirs.append("flow:b", 0, [skipped("b")], NOW)
            assert await take(feed, 1) == appended
        with pytest.raises(VersionConflict):
            await theirs.append("flow:a", 0, [skipped("a")], NOW)


async def test_sqlite_follows_its_own_appends_from_memory_and_sees_another_s_between(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A subscriber woken by this process's append takes it from memory, not the file; an
    append of another connection in between leaves a gap, and the file is read again."""
    url = store_url(tmp_path)
    async with open_store(url) as mine, open_store(url) as theirs:
        assert isinstance(mine, SQLiteEventStore)
        looks: list[int] = []
        feed_rows = mine._reads.feed_rows

        def counted(after: int, limit: int) -> list[Any]:
            looks.append(after)
            return feed_rows(after, limit)

        monkeypatch.setattr(mine._reads, "feed_rows", counted)
        async with aclosing(mine.subscribe(await mine.head())) as feed:
            for n in range(20):
                taking = asyncio.create_task(take(feed, 1))
                await wait_until(lambda: mine._changes._event is not None, "a waiting subscriber")
                appended = await mine.append("flow:a", n, [skipped("a")], NOW)
                assert await taking == appended
            assert looks == [0]  # once, on subscribing
            theirs_first = await theirs.append("flow:b", 0, [skipped("b")], NOW)
            mine_next = await mine.append("flow:a", 20, [skipped("a")], NOW)
            assert await take(feed, 2) == theirs_first + mine_next
            assert looks == [0, 20]


async def test_sqlite_decodes_only_the_wanted_appends_of_another_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read back from the file (not this process's recent appends): the unwanted rows'
    data is never decoded, across more than one page of the feed."""
    decoded: list[str] = []
    decode = codec.decode

    def counting(event_type: str, *args: Any) -> EventData:
        decoded.append(event_type)
        return decode(event_type, *args)

    url = store_url(tmp_path)
    async with open_store(url) as mine, open_store(url) as theirs:
        monkeypatch.setattr(codec, "decode", counting)
        async with aclosing(mine.subscribe("", lambda aggregate, _: aggregate == "flow:a")) as feed:
            for _ in range(6):
                await theirs.append(
                    "flow:b", await theirs.version("flow:b"), [skipped("b")] * 100, NOW
                )
            wanted = await theirs.append("flow:a", 0, [started("a")], NOW)
            assert await take(feed, 1) == wanted
    assert decoded == ["flow_started"]


async def test_sqlite_fails_a_malformed_append_alone(tmp_path: Path) -> None:
    """Appends queued together share a transaction; one that breaks it must not sink the rest."""
    malformed = FlowStarted(FlowID(["not", "an", "id"]), EMPTY_PLAN, {})  # type: ignore[arg-type]
    async with open_store(store_url(tmp_path)) as store:
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


async def test_sqlite_reads_a_database_written_before_events_had_versions(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    with sqlite3.connect(path) as connection:
        for statement in SCHEMA_V1:
            connection.execute(statement)
        connection.executemany(
            "INSERT INTO events (aggregate, seq, type, timestamp, data) VALUES (?, ?, ?, ?, ?)",
            [
                (
                    "flow:old",
                    1,
                    "flow_started",
                    "2024-05-01T12:30:15.123000+00:00",
                    '{"flow_id":"old","plan":{"goals":[],"required":[],"steps":{},'
                    '"attributes":{}},"init":{"x":1}}',
                ),
                (
                    "flow:old",
                    2,
                    "step_skipped",
                    "2024-05-01T12:30:16.000000+00:00",
                    '{"flow_id":"old","step_id":"s","reason":"not needed"}',
                ),
            ],
        )
        connection.execute(
            "INSERT INTO flows VALUES ('old', 'active', '2024-05-01T12:30:15.123000+00:00', "
            "NULL, NULL)"
        )
    connection.close()

    async with open_store(f"sqlite:///{path}") as store:
        events = await store.read("flow:old")
        assert [event.data for event in events] == [
            FlowStarted(FlowID("old"), EMPTY_PLAN, {"x": 1}),
            StepSkipped(FlowID("old"), StepID("s"), "not needed"),
        ]
        assert events[0].timestamp == NOW
        assert await store.read_all() == events
        appended = await store.append("flow:old", 2, [FlowCompleted(FlowID("old"))], at(2))
        summary = await store.flow_summary("old")
        assert summary is not None and summary.status is FlowStatus.COMPLETED
        assert await store.read("flow:old") == [*events, *appended]

    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        versions = connection.execute("SELECT data_version FROM events ORDER BY seq").fetchall()
        assert versions == [(1,), (1,), (1,)]
    connection.close()
