"""``panel serve apps/dashboard.py``: the dashboard over an in-process engine, demo included.

The first page to load starts one engine for the whole server process (kept in
``pn.state.cache``) on Panel's own event loop, plus the REST API, webhooks and
demo step services on a free loopback port next to it (``panel serve`` cannot
mount extra routes on its own port). Settings: ``ARGYLL_STORE`` (default
``memory://``) and ``ARGYLL_DEMO`` (default ``1``; ``0`` leaves the catalog alone).

With ``ARGYLL_ENGINE_URL=http://host:port`` no engine is started: the page
watches and drives that running ``argyll serve`` over its REST API and WebSocket.
"""

from __future__ import annotations

import asyncio
import os

import panel as pn

from argyll.demo import DemoService, install_demo
from argyll.runtime.engine import Engine
from argyll.server.app import serve
from argyll.ui.feed import EngineSource, RemoteEngine
from argyll.ui.serve import free_port
from argyll.ui.views import dashboard

CACHE_KEY = "argyll-engine"


async def start_engine() -> Engine:
    """Start the engine with its HTTP side (API, webhooks, demo services) on a free port."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    engine = Engine(os.environ.get("ARGYLL_STORE", "memory://"), webhook_base_url=url)
    await engine.start()
    demo = DemoService()
    await serve(engine, port=port, extra_routes=demo.routes())
    if os.environ.get("ARGYLL_DEMO", "1") != "0":
        await install_demo(engine, url)
    return engine


async def connect(url: str) -> RemoteEngine:
    remote = RemoteEngine(url)
    await remote.start()
    return remote


async def shared_engine() -> EngineSource:
    """The process's one engine (or connection); concurrent first pages share its start."""
    starting = pn.state.cache.get(CACHE_KEY)
    if starting is None:
        url = os.environ.get("ARGYLL_ENGINE_URL")
        opening = connect(url) if url else start_engine()
        starting = pn.state.cache[CACHE_KEY] = asyncio.ensure_future(opening)
    return await starting


page = pn.Column(
    pn.indicators.LoadingSpinner(value=True, size=40, name="Starting the engine…"),
    sizing_mode="stretch_width",
)


async def mount() -> None:
    page[:] = [dashboard(await shared_engine())]


pn.state.onload(mount)
page.servable(title="Argyll")
