"""The dashboard's server: one port for the page, the API and problem+json for everything else."""

from __future__ import annotations

import httpx
import pytest

from argyll.runtime.engine import Engine
from argyll.server.app import make_app
from argyll.ui.serve import free_port, mount, serve_dashboard
from argyll.wire import PROBLEM_CONTENT_TYPE


@pytest.mark.parametrize("path", ["/nothing-here", "/engine/nothing-here", "/a/b/c"])
async def test_paths_neither_page_nor_api_are_problem_json(path: str) -> None:
    port = free_port()
    async with Engine("memory://") as engine:
        server = await serve_dashboard(engine, port=port, extra_patterns=[mount(make_app(engine))])
        try:
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
                missing = await client.get(path)
                page = await client.get("/")
        finally:
            await server.aclose()
    assert missing.status_code == 404
    assert missing.headers["content-type"] == PROBLEM_CONTENT_TYPE
    assert missing.json()["detail"] == f"no resource at {path}"
    assert page.status_code == 200 and "<html" in page.text.lower()
