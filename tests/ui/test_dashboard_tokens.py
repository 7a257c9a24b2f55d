"""The served dashboard behind tokens, in Debian's Chromium: no token, a read-only token
(a read-only page), a token that runs flows, and the cookie that keeps the token."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from test_dashboard import (
    DEMO_IDS,
    REASON,
    Served,
    Session,
    demo_drawn,
    launched,
    start_from_page,
    watched_page,
)

from argyll import Engine
from argyll.access import Scope, Token, entry_toml, token_sha256
from argyll.server.app import make_app
from argyll.server.tokens import TokenFile
from argyll.ui.serve import free_port, mount, serve_dashboard
from argyll.wire import TOKEN_COOKIE

pytestmark = [
    pytest.mark.browser,
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.skipif(REASON is not None, reason=REASON or ""),
]

if REASON is None:
    from playwright.async_api import Browser, expect
else:
    Browser = object

SECRETS = {"reader": "dash-read-secret", "runner": "dash-run-secret", "boss": "dash-admin-secret"}
SCOPES = {"reader": Scope.READ, "runner": Scope.RUN, "boss": Scope.ADMIN}


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def served(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Served]:
    path = tmp_path_factory.mktemp("tokens") / "tokens.toml"
    entries = (
        entry_toml(Token(name, token_sha256(secret), frozenset({SCOPES[name]})))
        for name, secret in SECRETS.items()
    )
    path.write_text("\n".join(entries))
    tokens = TokenFile(path)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    async with Engine("memory://", webhook_base_url=url) as engine:
        api = mount(make_app(engine, tokens=tokens))
        server = await serve_dashboard(
            engine, port=port, extra_patterns=[api], demo=True, tokens=tokens
        )
        try:
            yield Served(engine, url)
        finally:
            await server.aclose()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with launched() as chromium:
        yield chromium


async def open_page(browser: Browser, url: str) -> Session:
    session = await watched_page(browser, url)
    await demo_drawn(session)
    return session


async def test_without_a_valid_token_the_dashboard_says_how_to_get_in(
    browser: Browser, served: Served
) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    for url in (served.url, f"{served.url}/?token=wrong"):
        response = await page.goto(url)
        assert response is not None and response.status == 401
        await expect(page.get_by_text("A token is required")).to_be_visible()
        assert "Bokeh" not in await page.content()
    assert await context.cookies() == []
    await page.goto(f"{served.url}/?token={SECRETS['reader']}&flow=f-1")
    assert page.url == f"{served.url}/?flow=f-1"
    await page.goto(f"{served.url}/?token=wrong")
    assert await context.cookies() == []
    await expect(page.get_by_text("A token is required")).to_be_visible()
    await context.close()
    async with httpx.AsyncClient(base_url=served.url) as client:
        assert (await client.get("/ws")).status_code in (401, 403)
        assert (await client.get("/engine/flow")).status_code == 401


async def test_a_read_only_token_sees_a_read_only_dashboard(
    browser: Browser, served: Served
) -> None:
    session = await open_page(browser, f"{served.url}/?token={SECRETS['reader']}")
    page = session.page
    assert "token" not in page.url
    (cookie,) = await page.context.cookies()
    assert (cookie["name"], cookie["value"]) == (TOKEN_COOKIE, SECRETS["reader"])
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    await session.click_card("notification-sender")
    await expect(page.locator(".required")).to_be_visible()
    await expect(page.locator(".bk-tab", has_text="Explain")).to_be_visible()
    for control in ("Start flow", "Delete step…"):
        assert await page.get_by_role("button", name=re.compile(control)).count() == 0
    assert await page.locator(".bk-tab", has_text="Register / edit step").count() == 0
    await page.goto(served.url)
    await session.wait_cards("health", dict.fromkeys(DEMO_IDS, "healthy"))
    assert SECRETS["reader"] not in await page.content()
    session.assert_clean()
    await page.context.close()


async def test_a_run_token_starts_flows_that_name_it_but_edits_no_steps(
    browser: Browser, served: Served
) -> None:
    session = await open_page(browser, f"{served.url}/?token={SECRETS['runner']}")
    flow_id = await start_from_page(session, "notification-sender", '{"quantity": 2}')
    events = await served.engine.flow_events(flow_id)
    assert events[0]["type"] == "flow_started" and events[0]["data"]["actor"] == "runner"
    assert await session.page.locator(".bk-tab", has_text="Register / edit step").count() == 0
    session.assert_clean()
    await session.page.context.close()


async def test_an_admin_token_has_every_control(browser: Browser, served: Served) -> None:
    session = await open_page(browser, f"{served.url}/?token={SECRETS['boss']}")
    await expect(session.page.locator(".bk-tab", has_text="Register / edit step")).to_be_visible()
    session.assert_clean()
    await session.page.context.close()


async def test_a_token_in_the_address_stays_out_of_the_access_log(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tornado.access")
    async with httpx.AsyncClient(base_url=served.url) as client:
        answer = await client.get(f"/?flow=f&token={SECRETS['reader']}")
    assert answer.status_code == 302 and TOKEN_COOKIE in answer.headers["set-cookie"]
    assert "token=***" in caplog.text and SECRETS["reader"] not in caplog.text
