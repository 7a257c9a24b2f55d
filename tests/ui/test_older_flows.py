"""The flows table in Chromium on a store with more flows than a page reads: it opens on the
newest ``FLOW_PAGE``, "Older flows" brings the rest, and then the control is gone.

The store is filled straight through its ``append`` (no engine runs the flows): ended
flows one second apart, so their order is known and a restart finds nothing to resume.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from test_dashboard import REASON, Served, Session, browser, watched_page

from argyll import Engine
from argyll.events import FlowCompleted, FlowStarted, flow_aggregate
from argyll.model import FlowID, Plan, StepID
from argyll.server.app import make_app
from argyll.store.memory import MemoryEventStore
from argyll.ui.model import FLOW_PAGE
from argyll.ui.serve import free_port, mount, serve_dashboard
from argyll.ui.views.flows import FLOW_PAGE_SIZE

if REASON is None:
    from playwright.async_api import Locator, expect

pytestmark = [
    pytest.mark.browser,
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.skipif(REASON is not None, reason=REASON or ""),
]

__all__ = ["browser"]  # the fixture, shared with test_dashboard

FLOWS = FLOW_PAGE + 30
START = datetime(2026, 1, 1, tzinfo=UTC)
PLAN = Plan((StepID("g"),), (), {}, {})

TABLE_PAGES = """() => {
  // The flows table's page count (the only table with a "flow" column).
  for (const model of Bokeh.documents[0].all_models) {
    if (model.type.endsWith("DataTabulator") && model.source.data.flow !== undefined) {
      return model.max_page;
    }
  }
  return null;
}"""
CUT_TITLES = """(titles) => titles
  .filter((title) => title.innerText.trim() && title.scrollWidth > title.clientWidth)
  .map((title) => title.innerText)"""


def flow_id(n: int) -> str:
    return f"flow-{n:03}"


async def filled_store() -> MemoryEventStore:
    """``FLOWS`` completed flows, ``flow-000`` the oldest, one second apart."""
    store = MemoryEventStore()
    for n in range(FLOWS):
        flow = FlowID(flow_id(n))
        events = [FlowStarted(flow, PLAN, {}), FlowCompleted(flow)]
        await store.append(flow_aggregate(flow), 0, events, START + n * timedelta(seconds=1))
    return store


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def served() -> AsyncIterator[Served]:
    port = free_port()
    async with Engine(await filled_store()) as engine:
        api = mount(make_app(engine))
        server = await serve_dashboard(engine, port=port, extra_patterns=[api])
        try:
            yield Served(engine, f"http://127.0.0.1:{port}")
        finally:
            await server.aclose()


def flow_cells(session: Session) -> Locator:
    """The flow id cells of the table's rows as rendered (inside Panel's shadow roots)."""
    return session.page.locator(".tabulator-row .tabulator-cell[tabulator-field='flow']")


async def wait_for_rows(session: Session, first: int, last: int) -> None:
    """Wait until the rendered rows are flows ``first`` down to ``last``, newest first."""
    expected = [flow_id(n) for n in range(first, last - 1, -1)]
    await expect(flow_cells(session)).to_have_text(expected)


async def wait_for_pages(session: Session, count: int) -> None:
    await session.page.wait_for_function(f"() => ({TABLE_PAGES})() === {count}")


async def test_older_flows_bring_the_rest_of_the_store_and_then_the_control_goes(
    browser: object, served: Served
) -> None:
    session = await watched_page(browser, served.url)  # type: ignore[arg-type]
    page = session.page
    newest, oldest_listed = FLOWS - 1, FLOWS - FLOW_PAGE
    try:
        await wait_for_rows(session, newest, newest - FLOW_PAGE_SIZE + 1)
        await wait_for_pages(session, math.ceil(FLOW_PAGE / FLOW_PAGE_SIZE))
        titles = page.locator(".tabulator-col-title")
        assert await titles.evaluate_all(CUT_TITLES) == [], "column titles cut short"
        older = page.get_by_role("button", name="Older flows")
        await older.wait_for(state="visible")
        await session.shoot("older-flows-1-newest")

        last_page = page.locator(".tabulator-paginator button[data-page='last']")
        await last_page.click()
        on_last = FLOW_PAGE % FLOW_PAGE_SIZE or FLOW_PAGE_SIZE
        await wait_for_rows(session, oldest_listed + on_last - 1, oldest_listed)

        await older.click()
        await wait_for_pages(session, math.ceil(FLOWS / FLOW_PAGE_SIZE))
        await older.wait_for(state="hidden")
        await last_page.click()
        on_last = FLOWS % FLOW_PAGE_SIZE or FLOW_PAGE_SIZE
        await wait_for_rows(session, on_last - 1, 0)
        await session.shoot("older-flows-2-oldest")
        session.assert_clean()
    finally:
        await page.context.close()
