"""The served dashboard in Debian's Chromium, driven by Playwright, against the demo catalog.

One server (engine on ``memory://``, REST API and demo services mounted) and one
browser serve the whole module; each test opens its own page. Every page
records console errors and any request that is not for the loopback server;
each test ends by asserting there were none. Screenshots of each view go to
``test-artifacts/ui/``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import pytest_asyncio

from argyll import Engine
from argyll.demo import demo_steps
from argyll.model import FlowStatus
from argyll.server.app import make_app
from argyll.ui.serve import free_port, mount, serve_dashboard

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
LOOPBACK = {"127.0.0.1", "localhost", "[::1]"}
TIMEOUT_MS = 15_000
DEMO_IDS = sorted(step["id"] for step in demo_steps("http://x"))


def _unavailable() -> str | None:
    if not CHROMIUM.exists():
        return f"Debian's Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)"
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    return None


REASON = _unavailable()
if REASON and os.environ.get("CI") == "true":
    raise RuntimeError(f"browser tests cannot run in CI: {REASON}")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.skipif(REASON is not None, reason=REASON or ""),
]

if REASON is None:
    from playwright.async_api import Browser, Page, async_playwright, expect
else:
    Browser = Page = object

# Page coordinates of a step card's centre, from the Bokeh plot's own scales.
CARD_CENTRE = """async (stepId) => {
  // Page coordinates of the card's centre, once the layout has stopped moving it.
  const centre = () => {
    const doc = Bokeh.documents[0];
    const plot = doc.get_model_by_name("argyll-graph");
    const cards = doc.get_model_by_name("argyll-cards");
    const view = Bokeh.index.find_one(plot);
    const i = cards.data.id.indexOf(stepId);
    const box = view.canvas_view.el.getBoundingClientRect();
    return [box.left + view.frame.x_scale.compute(cards.data.x[i]),
            box.top + view.frame.y_scale.compute(cards.data.y[i])];
  };
  const frame = () => new Promise((done) => setTimeout(done, 50));
  let last = centre();
  for (let tries = 0; tries < 40; tries++) {
    await frame();
    const now = centre();
    if (now[0] === last[0] && now[1] === last[1]) { return now; }
    last = now;
  }
  return last;
}"""
GRAPH_DRAWN = """() => Bokeh.index.find_one(
  Bokeh.documents[0].get_model_by_name("argyll-graph")) != null"""
CARD_COLUMN = """([column]) => {
  const cards = Bokeh.documents[0].get_model_by_name("argyll-cards");
  if (cards == null) { return null; }
  return Object.fromEntries(cards.data.id.map((id, i) => [id, cards.data[column][i]]));
}"""


@dataclass
class Served:
    engine: Engine
    url: str


@dataclass
class Session:
    """A page and what it did that it should not have."""

    page: Page
    errors: list[str] = field(default_factory=list)
    offsite: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        assert self.errors == [], "console errors"
        assert self.offsite == [], "requests that left loopback"

    async def cards(self, column: str) -> dict[str, object]:
        return await self.page.evaluate(CARD_COLUMN, [column])

    async def wait_cards(self, column: str, expected: dict[str, object]) -> None:
        """Wait until the graph's ``column`` holds ``expected`` for those steps."""
        await self.page.wait_for_function(
            """([column, expected]) => {
              const docs = window.Bokeh ? Bokeh.documents : [];
              const cards = docs.length ? docs[0].get_model_by_name("argyll-cards") : null;
              return cards != null && Object.entries(expected).every(
                ([id, value]) => cards.data[column][cards.data.id.indexOf(id)] === value);
            }""",
            arg=[column, expected],
            timeout=TIMEOUT_MS,
        )

    async def header_drawn(self) -> None:
        """Wait until the header row (the header and the theme switch) is drawn.

        Both are ESM components, drawn once their modules have loaded, which on a busy
        machine comes after the graph. The row keeps its height meanwhile (see
        test_page_load_layout), so the graph does not move; a click still waits for
        the page a user would see.
        """
        for drawn in (".count-steps", ".argyll-theme-toggle"):
            await expect(self.page.locator(drawn)).to_be_visible(timeout=TIMEOUT_MS)

    async def click_card(self, step_id: str) -> None:
        """Click the card's centre, once nothing above the graph can still move it."""
        await self.header_drawn()
        # page.evaluate has no timeout of its own: a page that stops answering must fail here.
        async with asyncio.timeout(TIMEOUT_MS / 1000):
            x, y = await self.page.evaluate(CARD_CENTRE, step_id)
        await self.page.mouse.click(x, y)

    async def shoot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        await self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def served() -> AsyncIterator[Served]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    async with Engine("memory://", webhook_base_url=url) as engine:
        api = mount(make_app(engine))
        server = await serve_dashboard(engine, port=port, extra_patterns=[api], demo=True)
        try:
            yield Served(engine, url)
        finally:
            await server.aclose()


@contextlib.asynccontextmanager
async def launched() -> AsyncIterator[Browser]:
    """Debian's Chromium, headless, with the flags this machine's closed network needs."""
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            await chromium.close()


async def watched_page(browser: Browser, url: str, **context_options: Any) -> Session:
    """A page in a context of its own at ``url``; it records console errors and refuses
    every request that would leave loopback (``Session.assert_clean`` checks both)."""
    options = {"viewport": {"width": 1500, "height": 1000}, **context_options}
    context = await browser.new_context(**options)
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    current = Session(page)
    page.on("console", lambda m: m.type == "error" and current.errors.append(m.text))
    page.on("pageerror", lambda error: current.errors.append(str(error)))

    async def only_loopback(route) -> None:
        if urlsplit(route.request.url).hostname in LOOPBACK | {"::1"}:
            await route.continue_()
        else:
            current.offsite.append(route.request.url)
            await route.abort()

    await page.route("**/*", only_loopback)
    await page.goto(url)
    return current


async def demo_drawn(session: Session) -> None:
    """Wait until the page shows the demo's graph, every step healthy."""
    await session.wait_cards("health", dict.fromkeys(DEMO_IDS, "healthy"))
    await session.page.wait_for_function(GRAPH_DRAWN)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with launched() as chromium:
        yield chromium


@pytest_asyncio.fixture(loop_scope="module")
async def session(browser: Browser, served: Served) -> AsyncIterator[Session]:
    current = await watched_page(browser, served.url)
    await demo_drawn(current)
    yield current
    await current.page.context.close()


async def start_from_page(session: Session, goal: str, init: str) -> str:
    """Click ``goal``'s card, type ``init``, press Start; the id of the flow started."""
    page = session.page
    await session.click_card(goal)
    await expect(page.locator(".required")).to_be_visible()
    await page.locator(".argyll-init textarea").fill(init)
    await page.get_by_role("button", name=re.compile("Start flow")).click()
    started = page.get_by_text(re.compile("Started flow"))
    await expect(started).to_be_visible()
    return (await started.locator("code").inner_text()).strip()


async def test_graph_shows_every_demo_step(session: Session) -> None:
    assert sorted(await session.cards("id")) == DEMO_IDS
    roles = await session.cards("role")
    assert roles["user-resolver"] == roles["inventory-resolver"] == "resolver"
    assert roles["notification-sender"] == "collector"
    assert roles["order-creator"] == "processor"
    await expect(session.page.locator(".count-steps")).to_have_text(str(len(DEMO_IDS)))
    await session.shoot("1-graph")
    session.assert_clean()


async def test_clicking_a_goal_highlights_exactly_its_plan(session: Session, served: Served):
    await session.click_card("stock-reservation")
    plan = served.engine.plan(["stock-reservation"])
    expected = {sid: 1.0 if sid in plan.steps else 0.15 for sid in DEMO_IDS}
    await session.wait_cards("alpha", expected)
    summary = session.page.locator(".required")
    assert plan.required
    for name in plan.required:
        await expect(summary).to_contain_text(name)
    await session.shoot("2-plan-preview")
    session.assert_clean()


async def test_starting_a_flow_from_the_page_shows_it_completing_live(
    session: Session, served: Served
) -> None:
    flow_id = await start_from_page(session, "notification-sender", '{"quantity": 2}')
    await session.wait_cards("status", {sid: "completed" for sid in DEMO_IDS})
    page = session.page
    await expect(page.locator(".flow-id")).to_have_text(flow_id)
    detail = page.locator(".flow-id").locator("xpath=ancestor::div[1]")
    await expect(detail.locator(".status-completed").first).to_be_visible()
    row = page.locator(".tabulator-row", has_text=flow_id)
    await expect(row.locator(".status-completed")).to_be_visible()
    assert (await served.engine.get_flow(flow_id)).status is FlowStatus.COMPLETED
    await session.shoot("3-flow-completed")
    await page.locator(".bk-tab", has_text="Timeline").click()
    await page.wait_for_function(
        """() => Bokeh.documents[0].get_model_by_name("argyll-timeline-bars")
              ?.data.lane.includes("payment-processor")"""
    )
    await session.shoot("4-timeline")
    await page.locator(".bk-tab", has_text="Event log").click()
    await expect(page.locator(".tabulator-cell", has_text="flow_started")).to_be_visible()
    await session.shoot("5-event-log")
    session.assert_clean()


async def test_a_failing_flow_shows_the_failed_step(session: Session) -> None:
    await start_from_page(session, "notification-sender", '{"quantity": 500}')
    await session.wait_cards("status", {"stock-reservation": "failed"})
    await session.wait_cards("fill", {"stock-reservation": "#ef4444"})
    page = session.page
    await expect(page.locator(".status-failed").first).to_be_visible()
    await session.click_card("stock-reservation")
    detail = page.locator(".argyll-flow-detail")
    await expect(detail.get_by_text(re.compile("only 120 Widget in stock"))).to_be_visible()
    await page.get_by_role("button", name="failed").click()
    await expect(page.locator(".tabulator-row .status-completed")).to_have_count(0)
    await session.shoot("6-flow-failed")
    session.assert_clean()


async def test_selecting_a_flow_in_the_table_follows_it(session: Session, served: Served):
    flow_id = await served.engine.start_flow(["text-formatter"], {"quantity": 1})
    page = session.page
    await page.locator(".tabulator-cell", has_text=flow_id).click()
    await expect(page.locator(".flow-id")).to_have_text(flow_id)
    plan = served.engine.plan(["text-formatter"], {"quantity": 1})
    await session.wait_cards("status", dict.fromkeys(plan.steps, "completed"))
    faded = {sid: 0.15 for sid in DEMO_IDS if sid not in plan.steps}
    await session.wait_cards("alpha", faded)
    await page.get_by_role("button", name="Clear").click()
    await session.wait_cards("alpha", dict.fromkeys(DEMO_IDS, 1.0))
    session.assert_clean()


async def test_step_form_shows_engine_problems_next_to_each_field(session: Session) -> None:
    page = session.page
    await page.locator(".bk-tab", has_text="Register / edit step").click()
    await page.locator(".argyll-field-id input").fill("bad id!")
    await page.locator(".argyll-field-script textarea").fill('{"language": "lua"}')
    await page.get_by_role("button", name="Register").click()
    await expect(page.locator(".argyll-field-id .error")).to_contain_text("must match")
    await expect(page.locator(".argyll-field-script .error")).to_contain_text("empty")
    await session.shoot("7-register-form")
    session.assert_clean()


async def test_a_card_clicked_after_starting_a_flow_is_selected_where_the_eye_is(
    session: Session,
) -> None:
    flow_id = await start_from_page(session, "notification-sender", '{"quantity": 3}')
    await session.wait_cards("status", {"notification-sender": "completed"})
    page = session.page
    await session.click_card("payment-processor")
    await session.wait_cards("line_width", {"payment-processor": 4.0})
    goals = page.locator(".bk-input-group", has_text="Goals")
    chosen = goals.locator(".choices__list--multiple .choices__item")
    await expect(chosen).to_have_count(1)
    await expect(chosen).to_contain_text("payment-processor")
    await expect(page.get_by_role("button", name=re.compile("Start flow"))).to_be_enabled()
    detail = page.locator(".argyll-flow-detail")
    await expect(detail.locator(".flow-id")).to_have_text(flow_id)
    await expect(detail.get_by_text("Step payment-processor")).to_be_in_viewport()
    await session.page.screenshot(path=str(ARTIFACTS / "10-card-selected.png"))
    await page.get_by_role("button", name="Clear").click()
    await session.wait_cards("line_width", {"payment-processor": 2.0})
    await expect(chosen).to_have_count(0)
    await expect(detail.get_by_text("Step payment-processor")).to_have_count(0)
    session.assert_clean()


RICH_STEP = {
    "id": "ui-edit-probe",
    "name": "Edit probe",
    "type": "script",
    "version": "1.0.0",
    "labels": {"team": "ui"},
    "attributes": {
        "probe_in": {"role": "required", "type": "number"},
        "probe_opt": {"role": "optional", "type": "string", "default": '"x"'},
        "probe_out": {"role": "output", "type": "number"},
    },
    "script": {"language": "ale", "script": "{:probe_out (* probe_in 2)}"},
    "predicate": {"language": "ale", "script": "(> probe_in 0)"},
    "work_config": {
        "max_retries": 4,
        "init_backoff": 100,
        "max_backoff": 2000,
        "backoff_type": "linear",
        "parallelism": 2,
    },
}
EDITED_STEP = {
    "id": "ui-edit-probe",
    "name": "Edited probe",
    "type": "sync",
    "version": "2.0.0",
    "labels": {"team": "ops", "tier": "gold"},
    "attributes": {
        "probe_in": {"role": "required", "type": "number"},
        "probe_items": {"role": "optional", "type": "array", "default": "[]", "for_each": True},
        "probe_out": {"role": "output", "type": "string"},
    },
    "http": {"endpoint": "http://127.0.0.1:9/probe", "method": "PUT", "timeout": 1234},
    "predicate": {"language": "lua", "script": "return probe_in > 1"},
    "work_config": {
        "max_retries": 7,
        "init_backoff": 300,
        "max_backoff": 9000,
        "backoff_type": "fixed",
        "parallelism": 3,
    },
}


async def _rest_step(served: Served, step_id: str) -> dict[str, object]:
    async with httpx.AsyncClient() as client:
        reply = await client.get(f"{served.url}/engine/step/{step_id}")
    reply.raise_for_status()
    return reply.json()


async def _pick_for_edit(session: Session, step_id: str) -> None:
    page = session.page
    await page.locator(".bk-tab", has_text="Register / edit step").click()
    await page.locator(".argyll-edit-picker select").select_option(step_id)
    await expect(page.locator(".argyll-field-id input")).to_have_value(step_id)


async def test_editing_every_field_of_a_step_round_trips(session: Session, served: Served):
    await served.engine.register_step(RICH_STEP)
    assert await _rest_step(served, RICH_STEP["id"]) == RICH_STEP
    page = session.page
    await _pick_for_edit(session, RICH_STEP["id"])
    for name in ("name", "version"):
        await expect(page.locator(f".argyll-field-{name} input")).to_have_value(RICH_STEP[name])
    script_box = page.locator(".argyll-field-script textarea")
    await expect(script_box).to_have_value(json.dumps(RICH_STEP["script"], indent=2))
    await page.get_by_role("button", name="Update").click()
    await expect(page.get_by_text(re.compile("Updated step"))).to_be_visible()
    await expect(page.locator(".argyll-step-form .error")).to_have_count(0)
    assert await _rest_step(served, RICH_STEP["id"]) == RICH_STEP

    await page.locator(".argyll-field-name input").fill(EDITED_STEP["name"])
    await page.locator(".argyll-field-version input").fill(EDITED_STEP["version"])
    await page.locator(".argyll-field-type select").select_option(EDITED_STEP["type"])
    for name in ("labels", "attributes", "http", "predicate", "work_config"):
        text = json.dumps(EDITED_STEP[name], indent=2)
        await page.locator(f".argyll-field-{name} textarea").fill(text)
    await script_box.fill("")
    await session.shoot("8-edit-form-filled")
    await page.get_by_role("button", name="Update").click()
    await expect(page.get_by_text(re.compile("Updated step"))).to_be_visible()
    await session.wait_cards("type", {EDITED_STEP["id"]: "sync"})
    assert await _rest_step(served, EDITED_STEP["id"]) == EDITED_STEP
    await session.shoot("9-edit-updated")
    await served.engine.unregister_step(EDITED_STEP["id"])
    session.assert_clean()


async def test_required_inputs_are_placeholders_that_start_refuses(session: Session) -> None:
    page = session.page
    await session.click_card("notification-sender")
    init = page.locator(".argyll-init textarea")
    await expect(init).to_have_value(re.compile('"quantity": "<quantity: number>"'))
    await expect(page.locator(".required .error")).to_have_text("✗")
    await page.get_by_role("button", name=re.compile("Start flow")).click()
    refusal = page.locator(".error", has_text="placeholder")
    await expect(refusal).to_contain_text(
        'init.quantity: still the placeholder "<quantity: number>"'
    )
    await expect(page.get_by_text(re.compile("Started flow"))).to_have_count(0)
    await session.page.screenshot(path=str(ARTIFACTS / "11-placeholder-refused.png"))
    await init.fill('{"quantity": 1}')
    await expect(page.locator(".required .ok")).to_have_text("✓")
    session.assert_clean()


async def test_a_flow_whose_goals_were_all_skipped_does_not_look_like_a_success(
    session: Session, served: Served
) -> None:
    flow_id = await served.engine.start_flow(["notification-sender"], {"quantity": 0})
    row = session.page.locator(".tabulator-row", has_text=flow_id)
    badge = row.locator(".status-completed-goals-skipped")
    await expect(badge).to_have_text("completed · goals skipped")
    await expect(badge).to_have_attribute("title", re.compile("goal notification-sender skipped"))
    await expect(row).to_contain_text("goal notification-sender skipped")
    await expect(row.locator(".status-completed")).to_have_count(0)
    assert (await served.engine.get_flow(flow_id)).status is FlowStatus.COMPLETED
    await badge.hover()
    await session.page.screenshot(path=str(ARTIFACTS / "12-goals-skipped.png"))
    session.assert_clean()
