"""SQLite flow queries: each shape of query is served by an index in its order (no scan
of the flows, no sort of them), a version 6 database gains the query indexes from
its rows, and a busy reader never holds up an append."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from argyll.events import FlowCompleted, FlowStarted
from argyll.flow_query import FlowCursor, FlowQuery
from argyll.model import FlowID, FlowStatus, Plan, StepID
from argyll.store import SQLiteEventStore, open_store
from argyll.store.contract import NOW, WAIT, at
from argyll.store.sqlite import _MIGRATIONS, flow_query_sql

ACTIVE, FAILED = FlowStatus.ACTIVE, FlowStatus.FAILED
CURSOR = FlowCursor(NOW, "f1")
QUERIES = {
    "everything": FlowQuery(),
    "oldest first after a cursor": FlowQuery(newest_first=False, after=CURSOR),
    "one status": FlowQuery(statuses=frozenset({ACTIVE}), after=CURSOR),
    "two statuses": FlowQuery(statuses=frozenset({ACTIVE, FAILED})),
    "a label": FlowQuery(labels={"team": "billing"}, after=CURSOR),
    "two labels, a goal, a status": FlowQuery(
        labels={"team": "billing", "tier": "1"}, goals=("g",), statuses=frozenset({ACTIVE})
    ),
    "a goal, oldest first": FlowQuery(goals=("g",), newest_first=False),
    "a parent, a status": FlowQuery(parent="p", statuses=frozenset({ACTIVE}), after=CURSOR),
    "a parent, two statuses": FlowQuery(parent="p", statuses=frozenset({ACTIVE, FAILED})),
    "an id prefix and a time range": FlowQuery(
        id_prefix="ord", created_after=at(-60), created_before=at(60)
    ),
}


@pytest.mark.parametrize("query", QUERIES.values(), ids=list(QUERIES))
async def test_each_query_reads_an_index_in_its_order(tmp_path: Path, query: FlowQuery) -> None:
    path = tmp_path / "plans.db"
    async with open_store(f"sqlite:///{path}"):
        pass
    sql, parameters = flow_query_sql(query)
    with sqlite3.connect(path) as connection:
        plan = [row[3] for row in connection.execute(f"EXPLAIN QUERY PLAN {sql}", parameters)]
    connection.close()

    steps = " | ".join(plan)
    # an index read in order stops at the page's end; a scan of a table would not
    table_scans = [s for s in plan if s.startswith("SCAN") and "INDEX" not in s]
    assert [s for s in table_scans if not s.startswith("SCAN (subquery")] == [], steps
    if len(query.statuses) > 1 and not (query.labels or query.goals or query.parent):
        # one page per status, each read from the status index, then merged (sorting pages only)
        searches = [step for step in plan if step.startswith("SEARCH")]
        assert len(searches) == len(query.statuses), steps
        assert all("flows_by_status" in step for step in searches), steps
    else:
        assert not any("TEMP B-TREE" in step for step in plan), steps


async def test_a_version_6_database_gains_goals_labels_and_counts(tmp_path: Path) -> None:
    path = tmp_path / "v6.db"
    async with open_store(f"sqlite:///{tmp_path / 'source.db'}") as source:
        starts = {"a": ("g",), "b": ("g", "h"), "c": ("h",)}
        for n, (flow_id, goals) in enumerate(starts.items()):
            plan = Plan(tuple(StepID(g) for g in goals), (), {}, {})
            start = FlowStarted(FlowID(flow_id), plan, {}, labels={"n": str(n)})
            await source.append(f"flow:{flow_id}", 0, [start], at(n))
        await source.append("flow:b", 1, [FlowCompleted(FlowID("b"))], at(5))
    with sqlite3.connect(path) as old, sqlite3.connect(tmp_path / "source.db") as new:
        for migration in _MIGRATIONS[:6]:
            for statement in migration:
                old.execute(statement)
        old.execute("PRAGMA user_version = 6")
        events = new.execute("SELECT aggregate, seq, type, timestamp, data FROM events")
        old.executemany(
            "INSERT INTO events (aggregate, seq, type, timestamp, data) VALUES (?, ?, ?, ?, ?)",
            events.fetchall(),
        )
        columns = "id, status, created_at, completed_at, error, labels, parent"
        flows = new.execute(f"SELECT {columns} FROM flows")
        old.executemany(f"INSERT INTO flows ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?)", flows)
    old.close()
    new.close()

    async with open_store(f"sqlite:///{path}") as store:
        by_goal = await store.query_flows(FlowQuery(goals=("g",)))
        assert [(flow.id, flow.goals) for flow in by_goal.flows] == [
            ("b", ("g", "h")),
            ("a", ("g",)),
        ]
        by_label = await store.query_flows(FlowQuery(labels={"n": "2"}))
        assert [flow.id for flow in by_label.flows] == ["c"]
        counts = await store.flow_counts()
        assert (counts[FlowStatus.ACTIVE], counts[FlowStatus.COMPLETED]) == (2, 1)


async def test_a_busy_reader_does_not_hold_up_appends(tmp_path: Path) -> None:
    store = await SQLiteEventStore.open(f"sqlite:///{tmp_path / 'busy.db'}")
    release = threading.Event()
    try:
        busy = asyncio.get_running_loop().run_in_executor(store._reader, release.wait, WAIT)
        plan = Plan((StepID("g"),), (), {}, {})
        async with asyncio.timeout(WAIT / 2):
            await store.append("flow:a", 0, [FlowStarted(FlowID("a"), plan, {})], NOW)
        release.set()
        await busy
        assert [flow.id for flow in (await store.query_flows(FlowQuery())).flows] == ["a"]
    finally:
        release.set()
        await store.aclose()
