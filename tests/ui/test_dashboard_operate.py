"""Operating flows from the dashboard in Debian's Chromium: the Operate panel and Explain tab.

Its own server and catalog: an async step whose webhook never comes (so a flow
waits for an operator) and a script step after it. Screenshots go to
``test-artifacts/ui/``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest_asyncio
from test_dashboard import (
    GRAPH_DRAWN,
    REASON,
    TIMEOUT_MS,
    Served,
    Session,
    launched,
    pytestmark,  # noqa: F401  (the browser marks apply here too)
    watched_page,
)

from argyll import Engine
from argyll.model import FlowStatus
from argyll.server.app import make_app
from argyll.testing import StepService, script_step, wait_until
from argyll.ui.serve import free_port, mount, serve_dashboard

if REASON is None:
    from playwright.async_api import Browser, expect
else:
    Browser = object


def held_step(url: str) -> dict:
    return {
        "id": "hold",
        "name": "Approval",
        "type": "async",
        "attributes": {"order": {"role": "required"}, "approved": {"role": "output"}},
        "http": {"endpoint": f"{url}/approve"},
    }


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def served() -> AsyncIterator[Served]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    async with (
        StepService(lambda call: (202, None)) as service,
        Engine("memory://", webhook_base_url=url) as engine,
    ):
        await engine.register_step(held_step(service.url))
        await engine.register_step(
            script_step("ship", "{:shipped approved}", requires=["approved"], outputs=["shipped"])
        )
        server = await serve_dashboard(engine, port=port, extra_patterns=[mount(make_app(engine))])
        try:
            yield Served(engine, url)
        finally:
            await server.aclose()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with launched() as chromium:
        yield chromium


@pytest_asyncio.fixture(loop_scope="module")
async def session(browser: Browser, served: Served) -> AsyncIterator[Session]:
    current = await watched_page(browser, served.url, viewport={"width": 1500, "height": 1100})
    await current.page.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0")
    await current.page.wait_for_function(GRAPH_DRAWN)
    yield current
    await current.page.context.close()


async def follow(session: Session, served: Served) -> str:
    """Start a flow waiting at the approval step and select it in the flows table."""
    flow_id = await served.engine.start_flow(["ship"], {"order": 7})
    await session.page.locator(".tabulator-cell", has_text=flow_id).click()
    await expect(session.page.locator(".flow-id")).to_have_text(flow_id)
    return flow_id


async def act(session: Session, action: str, reason: str = "") -> None:
    page = session.page
    if reason:
        await page.locator(".argyll-reason input").fill(reason)
    await page.locator(f".argyll-action-{action} button").click()
    await page.locator(".argyll-confirm button").click()


async def status_of(served: Served, flow_id: str, status: FlowStatus) -> None:
    async def reached() -> bool:
        return (await served.engine.get_flow(flow_id)).status is status

    await wait_until(reached, f"flow {flow_id} {status.value}", timeout=TIMEOUT_MS / 1000)


async def test_pause_resume_and_cancel_ask_first_and_record_the_reason(session, served):
    flow_id = await follow(session, served)
    page = session.page
    await expect(page.locator(".argyll-action-resume button")).to_be_hidden()
    await page.locator(".argyll-action-pause button").click()
    question = page.get_by_text(re.compile("Nothing new starts until it is resumed"))
    await expect(question).to_be_visible()
    await page.locator(".argyll-back button").click()
    assert (await served.engine.get_flow(flow_id)).status is FlowStatus.ACTIVE

    await act(session, "pause", "deploying")
    await status_of(served, flow_id, FlowStatus.PAUSED)
    await expect(page.locator(".argyll-action-resume button")).to_be_visible()
    await session.shoot("operate-1-paused")
    await act(session, "resume")
    await status_of(served, flow_id, FlowStatus.ACTIVE)
    await act(session, "cancel", "wrong order")
    await status_of(served, flow_id, FlowStatus.CANCELED)
    await expect(page.locator(".argyll-action-retry button")).to_be_visible()
    events = await served.engine.flow_events(flow_id)
    reasons = {e["type"]: e["data"].get("reason") for e in events if "actor" in e["data"]}
    assert reasons["flow_paused"] == "deploying"
    assert reasons["flow_canceled"] == "wrong order"

    await act(session, "retry", "order fixed")
    await status_of(served, flow_id, FlowStatus.ACTIVE)
    session.assert_clean()


async def test_a_step_completed_by_hand_is_checked_then_carries_the_flow_on(session, served):
    flow_id = await follow(session, served)
    page = session.page
    await session.click_card("hold")
    await page.locator(".argyll-action-complete button").click()
    outputs = page.locator(".argyll-outputs textarea")
    await outputs.fill('{"nope": 1}')
    await page.locator(".argyll-confirm button").click()
    await expect(page.get_by_text(re.compile("is not an output of the step"))).to_be_visible()
    assert (await served.engine.get_flow(flow_id)).status is FlowStatus.ACTIVE

    await outputs.fill('{"approved": true}')
    await page.locator(".argyll-confirm button").click()
    await status_of(served, flow_id, FlowStatus.COMPLETED)
    await page.locator(".bk-tab", has_text="Explain").click()
    explained = page.locator("table.argyll-explain")
    await expect(explained).to_contain_text("completed by hand by anonymous")
    await expect(explained).to_contain_text("ran (1 attempt)")
    await session.shoot("operate-2-explained")
    session.assert_clean()


async def test_explain_says_what_a_waiting_step_waits_for(session, served):
    await follow(session, served)
    page = session.page
    await page.locator(".bk-tab", has_text="Explain").click()
    explained = page.locator("table.argyll-explain")
    await expect(explained).to_contain_text('waiting for "approved" from Approval (active)')
    await expect(explained).to_contain_text("running (attempt 1)")
    session.assert_clean()
