"""The dashboard's server bound before its engine has started: the page waits, the API says 503."""

from __future__ import annotations

import httpx

from argyll.runtime.engine import Engine
from argyll.server.app import make_app
from argyll.ui.serve import free_port, mount, serve_dashboard


async def test_before_the_engine_starts_the_page_loads_and_the_api_answers_503() -> None:
    engine = Engine("memory://")
    server = await serve_dashboard(
        engine, port=free_port(), extra_patterns=[mount(make_app(engine))]
    )
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            page = await client.get("/")
            starting = await client.get("/health")
            await engine.start()
            ready = await client.get("/health")
    finally:
        await server.aclose()
        await engine.aclose()
    assert page.status_code == 200 and "<html" in page.text.lower()
    assert starting.status_code == 503
    assert starting.headers["retry-after"] == "1"
    assert starting.json()["type"] == "urn:argyll:problem:engine-starting"
    assert ready.status_code == 200
