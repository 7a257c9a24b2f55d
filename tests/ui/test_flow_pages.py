"""The dashboard reads the store's flows a page at a time: the newest page when it opens,
older pages when asked, and the store's own counts (read again when an event moves a flow
the page does not list)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from argyll.events import Event, FlowCompleted, FlowStarted, flow_aggregate
from argyll.flow_query import FlowPage, FlowQuery
from argyll.model import Catalog, FlowID, FlowStatus, Plan, StepID
from argyll.store.memory import MemoryEventStore
from argyll.testing import wait_until
from argyll.ui.feed import EngineSource, Feed
from argyll.ui.model import FLOW_PAGE, DashboardModel

START = datetime(2026, 1, 1, tzinfo=UTC)
PLAN = Plan((StepID("g"),), (), {}, {})
FLOWS = FLOW_PAGE + 30


class StoreSource:
    """What the feed reads of an engine, straight from a store (no engine runs the flows)."""

    catalog = Catalog()

    def __init__(self, store: MemoryEventStore) -> None:
        self.store = store
        self.queries: list[FlowQuery] = []

    def events(self, after: str | None = None) -> AsyncIterator[Event]:
        return self.store.subscribe(after)

    async def query_flows(self, query: FlowQuery) -> FlowPage:
        self.queries.append(query)
        return await self.store.query_flows(query)

    async def flow_counts(self) -> dict[FlowStatus, int]:
        return await self.store.flow_counts()

    async def flow_events(self, flow_id: str) -> list[dict[str, Any]]:
        return [event.to_dict() for event in await self.store.read(flow_aggregate(flow_id))]


async def test_the_page_opens_on_the_newest_flows_and_reads_older_ones_when_asked() -> None:
    store = MemoryEventStore()
    for n in range(FLOWS):
        flow = FlowID(f"f{n:03}")
        await store.append(
            flow_aggregate(flow), 0, [FlowStarted(flow, PLAN, {})], START + n * timedelta(seconds=1)
        )
    source = StoreSource(store)
    model = DashboardModel()
    feed = Feed(cast(EngineSource, source), model, interval=0.01)
    feed.start()
    try:
        await wait_until(lambda: len(model.flows) == FLOW_PAGE, "the newest page listed")
        assert model.flows[0].id == f"f{FLOWS - 1:03}"
        assert model.counts["active"] == FLOWS
        assert model.older is not None
        assert [query.limit for query in source.queries] == [FLOW_PAGE]

        await store.append("flow:f000", 1, [FlowCompleted(FlowID("f000"))], START)
        await wait_until(lambda: model.counts["completed"] == 1, "the store's counts read again")
        assert model.counts["active"] == FLOWS - 1
        assert "f000" not in {flow.id for flow in model.flows}

        model.param.trigger("older_wanted")
        await wait_until(lambda: len(model.flows) == FLOWS, "the older flows listed")
        assert model.older is None
        assert model.flows[-1].id == "f000" and model.flows[-1].status is FlowStatus.COMPLETED
        assert len(source.queries) == 2 and source.queries[1].after is not None
    finally:
        await feed.aclose()
        await store.aclose()
