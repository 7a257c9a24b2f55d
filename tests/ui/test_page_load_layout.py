"""Nothing on the page moves while it loads: the graph is drawn where it stays.

The header row's pieces are drawn by scripts that may run after the graph; a row that
grew when they did pushed the graph down by 25 px under the user's pointer.
"""

from __future__ import annotations

import pytest
from playwright.async_api import Browser
from test_dashboard import REASON, TIMEOUT_MS, Served, Session, browser, demo_drawn, served

pytestmark = [
    pytest.mark.browser,
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.skipif(REASON is not None, reason=REASON or ""),
]

__all__ = ["browser", "served"]  # the fixtures, shared with test_dashboard

GRAPH_TOPS = """
(() => {
  const find = (root) => root.querySelector("canvas") || [...root.querySelectorAll("*")]
    .filter((el) => el.shadowRoot).map((el) => find(el.shadowRoot)).find(Boolean) || null
  window.graphTops = []
  const look = () => {
    const canvas = find(document)
    if (canvas) {
      const top = Math.round(canvas.getBoundingClientRect().top)
      if (window.graphTops.at(-1) !== top) { window.graphTops.push(top) }
    }
    requestAnimationFrame(look)
  }
  requestAnimationFrame(look)
})()
"""
"""Records, every frame from the first, where the page's first canvas (the graph) starts."""


async def test_the_graph_does_not_move_when_the_header_row_is_drawn(
    browser: Browser, served: Served
) -> None:
    context = await browser.new_context(viewport={"width": 1500, "height": 1000})
    try:
        page = await context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        await page.add_init_script(GRAPH_TOPS)
        await page.goto(served.url)
        session = Session(page)
        await demo_drawn(session)
        await session.header_drawn()
        tops = await page.evaluate("window.graphTops")
        assert len(tops) == 1, f"the graph moved while the page loaded: tops {tops}"
    finally:
        await context.close()
