"""Dashboard features in Debian's Chromium: deep links, the flows table's search and filters,
deleting a step, the demo's presets. Screenshots go to ``test-artifacts/ui/features-*.png``.

The browser runs in New York's time zone, so the table's local start times
differ from the UTC on hover.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from test_dashboard import (
    DEMO_IDS,
    REASON,
    Session,
    browser,
    demo_drawn,
    served,
    watched_page,
)

from argyll.model import FlowStatus
from argyll.testing import script_step

__all__ = ["browser", "served"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.skipif(REASON is not None, reason=REASON or ""),
]

if REASON is None:
    from playwright.async_api import Browser, expect
else:
    Browser = object

ZONE = "America/New_York"


async def open_page(browser: Browser, url: str) -> tuple[Session, object]:
    """A page in its own context (New York time) at ``url``, the demo's graph drawn."""
    current = await watched_page(browser, url, timezone_id=ZONE)
    await demo_drawn(current)
    return current, current.page.context


@pytest_asyncio.fixture(loop_scope="module")
async def session(browser: Browser, served) -> AsyncIterator[Session]:
    current, context = await open_page(browser, served.url)
    yield current
    await context.close()


def cell(row, column: str):
    return row.locator(f".tabulator-cell[tabulator-field='{column}']")


def row_of(session: Session, flow_id: str):
    return session.page.locator(".tabulator-row", has_text=flow_id)


async def test_the_url_names_the_selection_survives_a_reload_and_can_be_shared(
    session: Session, served, browser: Browser
) -> None:
    flow_id = await served.engine.start_flow(["text-formatter"], {"quantity": 1})
    page = session.page
    await page.locator(".tabulator-cell", has_text=flow_id).click()
    await expect(page.locator(".flow-id")).to_have_text(flow_id)
    await page.wait_for_url(re.compile(rf"\?flow={flow_id}$"))
    await session.click_card("order-creator")
    await page.wait_for_url(re.compile(rf"\?flow={flow_id}&step=order-creator$"))

    await page.reload()
    await demo_drawn(session)
    detail = page.locator(".argyll-flow-detail")
    await expect(detail.locator(".flow-id")).to_have_text(flow_id)
    await expect(detail.get_by_text("Step order-creator")).to_be_visible()
    goals = page.locator(".bk-input-group", has_text="Goals")
    await expect(goals.locator(".choices__list--multiple .choices__item")).to_contain_text(
        "order-creator"
    )
    await session.wait_cards("line_width", {"order-creator": 4.0})
    await expect(row_of(session, flow_id)).to_have_class(re.compile("tabulator-selected"))
    assert page.url.endswith(f"?flow={flow_id}&step=order-creator")
    await session.shoot("features-1-deep-link-reloaded")

    shared, context = await open_page(browser, f"{served.url}/?flow={flow_id}")
    try:
        await expect(shared.page.locator(".flow-id")).to_have_text(flow_id)
        await expect(row_of(shared, flow_id)).to_have_class(re.compile("tabulator-selected"))
        await shared.wait_cards("status", {"text-formatter": "completed"})
        await shared.shoot("features-2-deep-link-shared")
        shared.assert_clean()
    finally:
        await context.close()
    stale, context = await open_page(browser, f"{served.url}/?flow=no-such-flow")
    try:
        missing = stale.page.locator(".argyll-flow-detail .fact-error")
        await expect(missing).to_contain_text("The engine has no flow no-such-flow")
        stale.assert_clean()
    finally:
        await context.close()
    session.assert_clean()


async def test_the_flows_table_is_searched_and_filtered(session: Session, served) -> None:
    good = await served.engine.start_flow(["text-formatter"], {"quantity": 1})
    bad = await served.engine.start_flow(["notification-sender"], {"quantity": 500})
    assert (await served.engine.wait_flow(bad, timeout=10)).status is FlowStatus.FAILED
    page = session.page
    bad_row, good_row = row_of(session, bad), row_of(session, good)
    await expect(bad_row).to_contain_text(
        "stock-reservation: HTTP 409: only 120 Widget in stock, 500 wanted"
    )
    await expect(cell(bad_row, "progress")).to_have_text(re.compile(r"^\d / 9$"))
    await expect(cell(bad_row, "goals")).to_have_text("notification-sender")
    await expect(good_row).to_contain_text("text-formatter")
    started = good_row.locator("[title$=' UTC']")
    await expect(started).to_have_text(re.compile(r" E[SD]T$"))
    title = await started.get_attribute("title")
    assert title is not None and title != await started.inner_text()

    search = page.locator(".argyll-flow-search input")
    await search.fill("text-form")
    await expect(good_row).to_be_visible()
    await expect(bad_row).to_have_count(0)
    await search.fill(bad[:13].upper())
    await expect(bad_row).to_be_visible()
    await expect(good_row).to_have_count(0)
    await session.shoot("features-3-search-by-id")
    await search.fill("")
    await page.get_by_role("button", name="failed").click()
    await expect(bad_row).to_be_visible()
    await expect(good_row).to_have_count(0)
    await page.get_by_role("button", name="all").click()
    await page.locator(".argyll-flow-started select").select_option("last 5 minutes")
    await expect(good_row).to_be_visible()
    await expect(bad_row).to_be_visible()
    await good_row.locator("[title$=' UTC']").hover()
    await session.shoot("features-4-filtered-recent")
    session.assert_clean()


PROBE = script_step("ui-delete-probe", "{:probe_out 1}", outputs=["probe_out"])


async def test_a_step_is_deleted_after_a_confirmation(session: Session, served) -> None:
    await served.engine.register_step(PROBE)
    await session.wait_cards("id", {PROBE["id"]: PROBE["id"]})
    page = session.page
    await session.click_card(PROBE["id"])
    actions = page.locator(".argyll-step-actions")
    await expect(actions).to_contain_text(f"Step {PROBE['id']}")
    await actions.get_by_role("button", name="Delete step…").click()
    confirm = actions.get_by_role("button", name=f"Confirm delete {PROBE['id']}")
    await expect(confirm).to_be_visible()
    await actions.get_by_role("button", name="Cancel").click()
    await expect(confirm).to_be_hidden()
    assert PROBE["id"] in served.engine.catalog.steps
    await actions.get_by_role("button", name="Delete step…").click()
    await session.shoot("features-5-delete-confirm")
    await confirm.click()
    await expect(actions).to_contain_text(f"Deleted step {PROBE['id']}")
    await page.wait_for_function(
        """(id) => !Bokeh.documents[0].get_model_by_name("argyll-cards").data.id.includes(id)""",
        arg=PROBE["id"],
    )
    assert PROBE["id"] not in served.engine.catalog.steps
    assert sorted(await session.cards("id")) == DEMO_IDS
    await session.shoot("features-6-deleted")
    session.assert_clean()


async def test_the_demos_failing_order_is_one_click_away_and_explained(
    session: Session, served
) -> None:
    page = session.page
    presets = page.locator(".argyll-presets")
    await expect(presets).to_contain_text("only 120 are in stock")
    await presets.get_by_role("button", name="An order that fails").click()
    started = presets.get_by_text(re.compile("started flow"))
    await expect(started).to_be_visible()
    flow_id = (await started.locator("code").inner_text()).strip()
    await expect(page.locator(".flow-id")).to_have_text(flow_id)
    await session.wait_cards("status", {"stock-reservation": "failed"})
    flow = await served.engine.wait_flow(flow_id, timeout=10)
    assert flow.status is FlowStatus.FAILED and flow.init == {"quantity": 500}
    assert flow.plan.goals == ("notification-sender",)
    await expect(row_of(session, flow_id)).to_contain_text("stock-reservation: HTTP 409")
    # the payment, captured after the failure, is refunded: the drawer says so
    await expect(page.get_by_text("1 undone, 0 failed, 0 left")).to_be_visible()
    await session.shoot("features-7-demo-preset-failed")
    session.assert_clean()
