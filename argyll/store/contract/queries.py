"""The flow query contract: ``query_flows`` filters, orders and pages the flow index,
and ``flow_counts`` counts it by status."""

# ruff: noqa: S101 — pytest suites: a failed assert is how a backend fails the contract

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from argyll.events import FlowCompleted, FlowFailed, FlowPaused, FlowStarted, flow_aggregate
from argyll.flow_query import FlowCursor, FlowQuery
from argyll.model import FlowID, FlowStatus, ParentRef, Plan, StepID, Token
from argyll.store.base import EventStore
from argyll.store.contract.roles import Suite
from argyll.store.contract.support import NOW, at


def plan_for(*goals: str) -> Plan:
    return Plan(goals=tuple(StepID(goal) for goal in goals), required=(), steps={}, attributes={})


async def start(
    store: EventStore,
    flow_id: str,
    when: datetime,
    goals: Sequence[str] = ("g",),
    labels: Mapping[str, str] | None = None,
    parent: str | None = None,
) -> None:
    came_from = None if parent is None else ParentRef(FlowID(parent), StepID("sub"), Token("t"))
    started = FlowStarted(
        FlowID(flow_id), plan_for(*goals), {}, labels=dict(labels or {}), parent=came_from
    )
    await store.append(flow_aggregate(flow_id), 0, [started], when)


async def ids(store: EventStore, query: FlowQuery) -> list[str]:
    return [flow.id for flow in (await store.query_flows(query)).flows]


async def every_page(store: EventStore, query: FlowQuery) -> list[list[str]]:
    """The ids of each page, following ``next_cursor`` to the end (at most 100 pages)."""
    pages: list[list[str]] = []
    for _ in range(100):
        page = await store.query_flows(query)
        pages.append([flow.id for flow in page.flows])
        if page.next_cursor is None:
            return pages
        query = replace(query, after=FlowCursor.decode(page.next_cursor))
    raise AssertionError("paging did not end")


class FlowQueryContract(Suite):
    """query_flows: every filter, both orders, cursors that page stably; flow_counts."""

    async def _mixed(self, store: EventStore) -> None:
        """a..f one second apart: b completed, c failed, d paused; labels and goals vary."""
        await start(store, "a", at(0), ("g", "h"), {"team": "billing", "tier": "1"})
        await start(store, "b", at(1), ("g",), {"team": "billing"})
        await start(store, "c", at(2), ("h",), {"team": "sales"})
        await start(store, "d", at(3), ("g", "h"), {"team": "billing", "tier": "1"})
        await start(store, "e", at(4), ("g",))
        await start(store, "ab", at(5), ("h",), {"tier": "1"})
        await store.append("flow:b", 1, [FlowCompleted(FlowID("b"))], at(10))
        await store.append("flow:c", 1, [FlowFailed(FlowID("c"), "boom")], at(11))
        await store.append("flow:d", 1, [FlowPaused(FlowID("d"))], at(12))

    async def test_no_filter_lists_newest_first_with_goals(self, store: EventStore) -> None:
        await self._mixed(store)

        page = await store.query_flows(FlowQuery())

        assert [flow.id for flow in page.flows] == ["ab", "e", "d", "c", "b", "a"]
        assert page.next_cursor is None
        assert page.flows[-1].goals == ("g", "h")
        assert page.flows[-1].labels == {"team": "billing", "tier": "1"}

    async def test_each_filter_narrows_the_listing(self, store: EventStore) -> None:
        await self._mixed(store)
        active, failed = FlowStatus.ACTIVE, FlowStatus.FAILED

        assert await ids(store, FlowQuery(statuses=frozenset({active}))) == ["ab", "e", "a"]
        assert await ids(store, FlowQuery(statuses=frozenset({failed, FlowStatus.PAUSED}))) == [
            "d",
            "c",
        ]
        assert await ids(store, FlowQuery(labels={"team": "billing"})) == ["d", "b", "a"]
        assert await ids(store, FlowQuery(labels={"team": "billing", "tier": "1"})) == ["d", "a"]
        assert await ids(store, FlowQuery(labels={"team": "nobody"})) == []
        assert await ids(store, FlowQuery(goals=("h",))) == ["ab", "d", "c", "a"]
        assert await ids(store, FlowQuery(goals=("g", "h"))) == ["d", "a"]
        assert await ids(store, FlowQuery(goals=("nothing",))) == []
        assert await ids(store, FlowQuery(id_prefix="a")) == ["ab", "a"]
        assert await ids(store, FlowQuery(created_after=at(1), created_before=at(4))) == ["d", "c"]
        assert await ids(store, FlowQuery(created_after=at(3))) == ["ab", "e"]
        assert await ids(store, FlowQuery(created_before=at(1))) == ["a"]
        combined = FlowQuery(
            statuses=frozenset({active}), labels={"tier": "1"}, goals=("h",), id_prefix="a"
        )
        assert await ids(store, combined) == ["ab", "a"]

    async def test_children_are_listed_by_their_parent(self, store: EventStore) -> None:
        await start(store, "p", at(0))
        for n in range(4):
            await start(store, f"p-{n}", at(1 + n), parent="p", labels={"odd": str(n % 2)})
        await start(store, "q-0", at(9), parent="q")

        assert await ids(store, FlowQuery(parent="p")) == ["p-3", "p-2", "p-1", "p-0"]
        assert await ids(store, FlowQuery(parent="p", labels={"odd": "1"})) == ["p-3", "p-1"]
        assert await every_page(store, FlowQuery(parent="p", limit=3, newest_first=False)) == [
            ["p-0", "p-1", "p-2"],
            ["p-3"],
        ]
        assert await ids(store, FlowQuery(parent="p-0")) == []
        page = await store.query_flows(FlowQuery(parent="q"))
        assert [(flow.id, flow.parent) for flow in page.flows] == [("q-0", "q")]

    async def test_oldest_first_and_limits(self, store: EventStore) -> None:
        await self._mixed(store)

        assert await ids(store, FlowQuery(newest_first=False)) == ["a", "b", "c", "d", "e", "ab"]
        assert await ids(store, FlowQuery(newest_first=False, created_after=at(3))) == ["e", "ab"]
        assert await ids(store, FlowQuery(limit=2)) == ["ab", "e"]
        two_billing = FlowQuery(labels={"team": "billing"}, limit=2, newest_first=False)
        assert await ids(store, two_billing) == ["a", "b"]

    async def test_cursors_page_through_every_match_once(self, store: EventStore) -> None:
        await self._mixed(store)

        assert await every_page(store, FlowQuery(limit=2)) == [["ab", "e"], ["d", "c"], ["b", "a"]]
        assert await every_page(store, FlowQuery(limit=4, newest_first=False)) == [
            ["a", "b", "c", "d"],
            ["e", "ab"],
        ]
        assert await every_page(store, FlowQuery(limit=1, goals=("g", "h"))) == [["d"], ["a"]]
        assert await every_page(store, FlowQuery(limit=6)) == [["ab", "e", "d", "c", "b", "a"]]

    async def test_flows_created_at_one_moment_page_by_id(self, store: EventStore) -> None:
        for flow_id in ["m", "z", "a", "q", "k"]:
            await start(store, flow_id, NOW)

        assert await every_page(store, FlowQuery(limit=2)) == [["z", "q"], ["m", "k"], ["a"]]
        oldest = FlowQuery(limit=3, newest_first=False, goals=("g",))
        assert await every_page(store, oldest) == [["a", "k", "m"], ["q", "z"]]

    async def test_a_sparse_filter_reads_past_many_flows_of_one_moment(
        self, store: EventStore
    ) -> None:
        """Rows that tie on creation time and are skipped by the filter, far past a page."""
        for n in range(300):
            moment = NOW if n % 100 else at(n + 1)
            await start(store, f"f{n:03}", moment, ("g",), {"n": str(n % 7)})
        sparse = FlowQuery(limit=2, id_prefix="f00", labels={"n": "3"})

        assert await every_page(store, sparse) == [["f003"]]
        every_seventh = FlowQuery(limit=5, labels={"n": "0"}, newest_first=False)
        listed = [flow_id for page in await every_page(store, every_seventh) for flow_id in page]
        ties = sorted(f"f{n:03}" for n in range(300) if n % 7 == 0 and n % 100)
        assert listed == [*ties, "f000"]
        active = FlowQuery(limit=64, statuses=frozenset({FlowStatus.ACTIVE}))
        pages = await every_page(store, active)
        assert [len(page) for page in pages] == [64, 64, 64, 64, 44]
        assert len({flow_id for page in pages for flow_id in page}) == 300

    async def test_paging_is_stable_while_flows_are_started(self, store: EventStore) -> None:
        for n in range(7):
            await start(store, f"old{n}", at(n))
        first = await store.query_flows(FlowQuery(limit=3))
        for n in range(5):
            await start(store, f"new{n}", at(100 + n))
        assert first.next_cursor is not None
        rest = FlowQuery(limit=3, after=FlowCursor.decode(first.next_cursor))

        listed = [flow.id for flow in first.flows]
        for page in await every_page(store, rest):
            listed += page

        assert listed == [f"old{n}" for n in reversed(range(7))]

    async def test_a_row_moves_between_status_filters(self, store: EventStore) -> None:
        await start(store, "a", at(0))
        active = FlowQuery(statuses=frozenset({FlowStatus.ACTIVE}))
        assert await ids(store, active) == ["a"]

        await store.append("flow:a", 1, [FlowFailed(FlowID("a"), "x")], at(1))

        assert await ids(store, active) == []
        failed = await store.query_flows(FlowQuery(statuses=frozenset({FlowStatus.FAILED})))
        assert [(flow.id, flow.error) for flow in failed.flows] == [("a", "x")]

    async def test_flow_counts_count_each_status(self, store: EventStore) -> None:
        assert await store.flow_counts() == {status: 0 for status in FlowStatus}
        await self._mixed(store)

        assert await store.flow_counts() == {
            FlowStatus.ACTIVE: 3,
            FlowStatus.PAUSED: 1,
            FlowStatus.COMPLETED: 1,
            FlowStatus.FAILED: 1,
            FlowStatus.CANCELED: 0,
        }
