"""A sub-flow in Debian's Chromium: the parent's step drawer opens the child flow, whose
row in the flows table names its parent. Screenshot: ``test-artifacts/ui/subflow-*.png``."""

from __future__ import annotations

import re

import pytest
from test_dashboard import REASON, browser, demo_drawn, served, watched_page

from argyll.subflow import child_flow_id
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

DOUBLE = script_step("sf-double", "{:sf-y (* sf-x 2)}", requires=["sf-x"], outputs=["sf-y"])
SUB = {
    "id": "sf-sub",
    "type": "flow",
    "flow": {"goals": ["sf-double"]},
    "attributes": {"sf-x": {"role": "required"}, "sf-y": {"role": "output"}},
}


async def test_the_sub_flow_steps_drawer_opens_its_child(browser: Browser, served) -> None:
    for step in (DOUBLE, SUB):
        await served.engine.register_step(step)
    await served.engine.start_flow(["sf-sub"], {"sf-x": 4}, flow_id="sf-parent")
    parent = await served.engine.wait_flow("sf-parent", timeout=10)
    (token,) = parent.executions["sf-sub"].work_items
    child = child_flow_id("sf-parent", "sf-sub", token)

    session = await watched_page(browser, f"{served.url}/?flow=sf-parent&step=sf-sub")
    page = session.page
    try:
        await demo_drawn(session)
        link = page.locator(".argyll-flow-detail a.flow-link", has_text=child)
        await link.click()
        await page.wait_for_url(re.compile(rf"\?flow={re.escape(child)}$"))
        await demo_drawn(session)
        detail = page.locator(".argyll-flow-detail")
        await expect(detail.locator(".flow-id")).to_have_text(child)
        await expect(detail.locator("a.flow-link", has_text="sf-parent")).to_be_visible()
        row = page.locator(".tabulator-row", has_text=child)
        parent_cell = row.locator(".tabulator-cell[tabulator-field='parent']")
        await expect(parent_cell).to_have_text("sf-parent")
        await session.shoot("subflow-1-child-opened")
        session.assert_clean()
    finally:
        await page.context.close()
