"""The dashboard's look in Chromium: detail drawer and JSON viewer, step list, tabs, themes.

Uses the server, browser and page fixtures of ``test_dashboard`` (one served
demo engine per module). Screenshots go to ``test-artifacts/ui/look-*.png``.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import test_dashboard as dashboard
from test_dashboard import (
    DEMO_IDS,
    REASON,
    Served,
    Session,
    demo_drawn,
    start_from_page,
    watched_page,
)

browser, served, session = dashboard.browser, dashboard.served, dashboard.session
"""The fixtures of ``test_dashboard``: the served demo engine, Chromium, a page."""

pytestmark = [
    pytest.mark.browser,
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.skipif(REASON is not None, reason=REASON or ""),
]

if REASON is None:
    from playwright.async_api import Browser, expect

# Every visible element with text of its own, its colour against what is really
# behind it (background colours composited up through shadow roots), as a WCAG
# contrast ratio; returns those below 4.5 (3 for large text).
LOW_CONTRAST = """() => {
  const rgba = (text) => {
    const m = text.match(/rgba?\\(([^)]+)\\)/)
    if (!m) { return null }
    const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number)
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]
  }
  const over = (top, bottom) => {
    const a = top[3]
    return [0, 1, 2].map((i) => top[i] * a + bottom[i] * (1 - a)).concat([1])
  }
  const luminance = (c) => {
    const [r, g, b] = c.slice(0, 3).map((v) => {
      v /= 255
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4
    })
    return 0.2126 * r + 0.7152 * g + 0.0722 * b
  }
  const parent = (el) => el.parentElement || (el.parentNode && el.parentNode.host) || null
  const background = (el) => {
    const layers = []
    for (let node = el; node; node = parent(node)) {
      const colour = rgba(getComputedStyle(node).backgroundColor)
      if (colour && colour[3] > 0) {
        layers.push(colour)
        if (colour[3] >= 1) { break }
      }
    }
    let result = [255, 255, 255, 1]
    for (const layer of layers.reverse()) { result = over(layer, result) }
    return result
  }
  const elements = []
  const walk = (root) => {
    for (const el of root.querySelectorAll("*")) {
      elements.push(el)
      if (el.shadowRoot) { walk(el.shadowRoot) }
    }
  }
  walk(document)
  const failures = []
  let checked = 0
  for (const el of elements) {
    if (["STYLE", "SCRIPT", "TEMPLATE", "OPTION"].includes(el.tagName)) { continue }
    const own = [...el.childNodes].filter((n) => n.nodeType === 3 && n.textContent.trim())
    if (!own.length || !el.checkVisibility({ opacityProperty: true, visibilityProperty: true })) {
      continue
    }
    const box = el.getBoundingClientRect()
    if (box.width < 1 || box.height < 1 || el.closest("[disabled]") || el.disabled) { continue }
    const style = getComputedStyle(el)
    if (parseFloat(style.textIndent) < -999) { continue }  // text moved off screen (an icon)
    const back = background(el)
    const fore = over(rgba(style.color) || [0, 0, 0, 1], back)
    const [hi, lo] = [luminance(fore), luminance(back)].sort((a, b) => b - a)
    const ratio = (hi + 0.05) / (lo + 0.05)
    const size = parseFloat(style.fontSize)
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700)
    checked += 1
    if (ratio < (large ? 3 : 4.5)) {
      failures.push(`${ratio.toFixed(2)} ${style.color} on rgb(${back.slice(0, 3).map(Math.round)})`
        + ` <${el.tagName.toLowerCase()} class="${el.className}">`
        + ` ${own.map((n) => n.textContent.trim()).join(" ").slice(0, 40)}`)
    }
  }
  return { checked, failures }
}"""

TABS = ["Flows", "Timeline", "Event log", "Live events", "Explain", "Register / edit step"]
GRAPH_BACKGROUND = """() => Bokeh.documents[0].get_model_by_name("argyll-graph")
  .background_fill_color"""


@asynccontextmanager
async def themed_session(browser: Browser, url: str, scheme: str) -> AsyncIterator[Session]:
    """A page like the ``session`` fixture's, in a browser that prefers ``scheme``."""
    current = await watched_page(browser, url, color_scheme=scheme)
    try:
        await demo_drawn(current)
        yield current
    finally:
        await current.page.context.close()


def detail(session: Session):
    return session.page.locator(".argyll-flow-detail")


async def test_step_details_open_beside_the_graph_as_copyable_json(
    session: Session, served: Served
) -> None:
    page = session.page
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    flow_id = await start_from_page(session, "notification-sender", '{"quantity": 2}')
    await session.wait_cards("status", {sid: "completed" for sid in DEMO_IDS})
    await session.click_card("order-creator")
    drawer = detail(session)
    await expect(drawer.get_by_text("Step order-creator")).to_be_in_viewport()
    graph = await page.locator(".bk-Canvas").first.bounding_box()
    box = await drawer.bounding_box()
    assert box["x"] >= graph["x"] + graph["width"] - 1, "the drawer is right of the graph"
    assert box["y"] < graph["y"] + graph["height"], "the drawer is beside the graph, not below"

    flow = await served.engine.get_flow(flow_id)
    outputs = flow.executions["order-creator"].outputs
    document = drawer.get_by_role("region", name="outputs")
    await expect(document).to_be_visible()
    await document.get_by_role("button", name="Copy").click()
    await expect(document.get_by_role("button", name="Copied")).to_be_visible()
    copied = await page.evaluate("navigator.clipboard.readText()")
    assert json.loads(copied) == outputs

    attributes = drawer.get_by_role("region", name="attributes")
    values = {name: attr.value for name, attr in flow.attributes.items()}
    assert json.loads(await attributes.locator(".json-copy").get_attribute("data-json")) == values
    await session.shoot("look-1-drawer")
    session.assert_clean()


async def test_json_documents_fold_and_never_break_a_word(session: Session, served: Served):
    long_text = "word " * 60 + "x" * 300
    step = {
        "id": "look-long-output",
        "type": "script",
        "attributes": {"look_text": {"role": "output", "type": "string"}},
        "script": {"language": "ale", "script": "{:look_text " + json.dumps(long_text) + "}"},
    }
    await served.engine.register_step(step)
    try:
        flow_id = await served.engine.start_flow(["look-long-output"], {})
        page = session.page
        await page.locator(".tabulator-cell", has_text=flow_id).click()
        await session.wait_cards("status", {"look-long-output": "completed"})
        await session.click_card("look-long-output")
        outputs = detail(session).get_by_role("region", name="outputs")
        value = outputs.locator(".json-string", has_text="xxxx")
        await expect(value).to_be_visible()
        rects = await value.evaluate("el => el.getClientRects().length")
        assert rects == 1, "a long string stays on one line (its panel scrolls)"
        body = outputs.locator(".json-body")
        scroll = await body.evaluate("el => [el.scrollWidth, el.clientWidth]")
        assert scroll[0] > scroll[1], "the document scrolls sideways instead of breaking words"
        broken = await detail(session).evaluate(
            """el => [...el.querySelectorAll('.json-body span')]
                   .filter((s) => s.getClientRects().length > 1).length"""
        )
        assert broken == 0

        root = outputs.locator("details.json-node").first
        await expect(root).to_have_attribute("open", "")
        await root.locator(":scope > summary").click()
        await expect(root.locator(":scope > summary .json-fold")).to_have_text(re.compile(r"1 key"))
        await expect(value).to_be_hidden()
        await root.locator(":scope > summary").click()
        await expect(value).to_be_visible()

        events = detail(session).get_by_role("region", name=re.compile("step_completed"))
        await expect(events.locator(".json-string", has_text="xxxx")).to_have_count(0)
        await events.locator("summary").first.click()
        await expect(events.locator(".json-string", has_text="xxxx")).to_have_count(0)
        await events.get_by_text('"data"').click()
        await events.get_by_text('"outputs"').click()
        await expect(events.get_by_text('"look_text"')).to_be_visible()
        await session.shoot("look-2-json-folds")
    finally:
        await served.engine.unregister_step("look-long-output")
    session.assert_clean()


async def test_the_step_list_is_searchable_and_keyboard_driven(session: Session) -> None:
    page = session.page
    steps = page.get_by_role("listbox", name="Steps")
    await expect(steps.get_by_role("option")).to_have_count(len(DEMO_IDS))
    search = page.get_by_role("searchbox", name="Filter steps")
    await search.fill("stock")
    await expect(steps.get_by_role("option")).to_have_count(1)
    option = steps.get_by_role("option", name=re.compile("Stock Reservation"))
    await expect(option).to_have_attribute("aria-selected", "false")
    await search.press("Tab")
    await expect(option).to_be_focused()
    await page.keyboard.press("Enter")
    await session.wait_cards("line_width", {"stock-reservation": 4.0})
    await expect(option).to_have_attribute("aria-selected", "true")
    await expect(detail(session).get_by_text("Step stock-reservation")).to_be_visible()
    await session.shoot("look-3-step-list")
    await page.keyboard.press("Enter")
    await session.wait_cards("line_width", {"stock-reservation": 2.0})
    await expect(option).to_have_attribute("aria-selected", "false")

    await search.fill("object order")
    await expect(steps.get_by_role("option")).not_to_have_count(len(DEMO_IDS))
    await search.fill("")
    await expect(steps.get_by_role("option")).to_have_count(len(DEMO_IDS))
    await session.click_card("payment-processor")
    selected = steps.get_by_role("option", selected=True)
    await expect(selected).to_have_count(1)
    await expect(selected).to_contain_text("payment-processor")
    session.assert_clean()


async def test_view_tabs_have_tab_roles_and_keys(session: Session) -> None:
    page = session.page
    tablist = page.get_by_role("tablist", name="Dashboard views")
    tabs = tablist.get_by_role("tab")
    await expect(tabs).to_have_count(len(TABS))
    await expect(tablist.get_by_role("tab", selected=True)).to_have_text("Flows")
    flows = page.get_by_role("tab", name="Flows")
    panel_id = await flows.get_attribute("aria-controls")
    panel = page.locator(f"[role=tabpanel][id='{panel_id}']")
    await expect(panel).to_be_visible()
    await expect(panel).to_have_attribute("aria-labelledby", await flows.get_attribute("id"))
    await flows.focus()
    await page.keyboard.press("ArrowRight")
    timeline = page.get_by_role("tab", name="Timeline")
    await expect(timeline).to_be_focused()
    await expect(timeline).to_have_attribute("aria-selected", "true")
    await expect(flows).to_have_attribute("aria-selected", "false")
    await expect(panel).to_be_hidden()
    await page.keyboard.press("End")
    register = page.get_by_role("tab", name="Register / edit step")
    await expect(register).to_have_attribute("aria-selected", "true")
    await expect(page.locator(".argyll-field-id input")).to_be_visible()
    await page.keyboard.press("Home")
    await expect(flows).to_have_attribute("aria-selected", "true")
    indexes = [await tab.get_attribute("tabindex") for tab in await tabs.all()]
    assert indexes == ["0", *["-1"] * (len(TABS) - 1)]
    session.assert_clean()


async def _contrast_everywhere(session: Session, theme: str) -> None:
    """Every tab, with a failed and a completed flow and a step selected: every label readable."""
    page = session.page
    failures: list[str] = []
    checked = 0
    for tab in TABS:
        await page.get_by_role("tab", name=tab).click()
        await expect(page.get_by_role("tab", name=tab)).to_have_attribute("aria-selected", "true")
        await page.wait_for_timeout(300)  # the tab's widgets render after it is shown
        result = await page.evaluate(LOW_CONTRAST)
        checked += result["checked"]
        failures += [f"{tab}: {failure}" for failure in result["failures"]]
        await session.shoot(f"look-4-{theme}-{tab.split()[0].lower()}")
    assert checked > 100
    assert failures == [], "\n".join(failures)


@pytest.mark.parametrize("theme", ["light", "dark"])
async def test_every_label_is_readable_in_both_themes(
    browser: Browser, served: Served, theme: str
) -> None:
    async with themed_session(browser, served.url, theme) as page_session:
        page = page_session.page
        await expect(page.locator("html")).to_have_attribute("data-theme", theme)
        await start_from_page(page_session, "notification-sender", '{"quantity": 500}')
        await page_session.wait_cards("status", {"stock-reservation": "failed"})
        await page.get_by_role("button", name="Clear").click()
        await start_from_page(page_session, "notification-sender", '{"quantity": 1}')
        await page_session.wait_cards("status", {"notification-sender": "completed"})
        await page_session.click_card("stock-reservation")
        await expect(page.get_by_role("region", name="definition")).to_be_visible()
        await _contrast_everywhere(page_session, theme)
        page_session.assert_clean()


async def test_the_theme_toggle_overrides_the_system_for_the_session(
    browser: Browser, served: Served
) -> None:
    async with themed_session(browser, served.url, "light") as page_session:
        page = page_session.page
        html = page.locator("html")
        await expect(html).to_have_attribute("data-theme", "light")
        assert await page.evaluate(GRAPH_BACKGROUND) == "#f8fafc"
        await page.get_by_role("button", name="Switch to the dark theme").click()
        await expect(html).to_have_attribute("data-theme", "dark")
        await page.wait_for_function(f"() => ({GRAPH_BACKGROUND})() === '#0f172a'")
        await page_session.shoot("look-5-toggled-dark")
        await page.reload()
        await expect(html).to_have_attribute("data-theme", "dark")
        await page.wait_for_function(f"() => ({GRAPH_BACKGROUND})() === '#0f172a'")
        await page.emulate_media(color_scheme="dark")
        await page.get_by_role("button", name="Switch to the light theme").click()
        await expect(html).to_have_attribute("data-theme", "light")
        await page.wait_for_function(f"() => ({GRAPH_BACKGROUND})() === '#f8fafc'")
        page_session.assert_clean()
