"""Serve the dashboard at ``/`` from one Bokeh/Panel server on the running asyncio loop.

Everything else the process serves (the REST API, the demo's step services)
comes in as ``extra_patterns``: Tornado rules that Bokeh adds after its own, so
the whole of ``argyll serve`` is one Tornado process on one port. Bokeh and
Panel serve their JavaScript and CSS themselves (resources mode ``server``), so
the page works with no network beyond this server.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import panel as pn
from bokeh.settings import settings as bokeh_settings
from panel.io.server import Server, get_server
from tornado.web import Application

from argyll.access import OPEN
from argyll.demo import DEMO_PRESETS, DemoService, install_demo
from argyll.runtime.engine import Engine
from argyll.server.app import DEFAULT_MAX_BODY_SIZE, base_url_of, free_port
from argyll.server.handlers import NoRouteHandler
from argyll.server.tokens import TokenFile
from argyll.ui.auth import EXCLUDED_HEADERS, ActingEngine, TokenAuth, caller
from argyll.ui.feed import EngineSource, Feed
from argyll.ui.views import dashboard
from argyll.wire import TOKEN_COOKIE

TITLE = "Argyll"
API_PATHS = r"/(?:engine|health|webhook)(?:/.*)?"


def mount(app: Application, paths: str = API_PATHS) -> tuple[str, Application]:
    """A rule handing every request whose path matches ``paths`` to another Tornado app."""
    return (paths, app)


@dataclass(slots=True)
class DashboardServer:
    """A running dashboard server; ``aclose`` stops it, its pages' feeds and the demo."""

    server: Server
    url: str
    demo: DemoService | None = None
    feeds: set[Feed] = field(default_factory=set)

    async def aclose(self) -> None:
        self.server.stop(wait=False)
        self.server.unlisten()
        await asyncio.gather(*(feed.aclose() for feed in list(self.feeds)))
        self.feeds.clear()
        if self.demo is not None:
            await self.demo.aclose()


async def serve_dashboard(
    engine: EngineSource,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    extra_patterns: Sequence[Any] = (),
    demo: bool = False,
    register_demo: bool = True,
    title: str = TITLE,
    max_body_size: int = DEFAULT_MAX_BODY_SIZE,
    tokens: TokenFile | None = None,
) -> DashboardServer:
    """Start serving at once on the running loop; returns when the port is bound.

    Args:
        engine: the engine served (its ``webhook_base_url`` should be this server's URL
            when the demo's async step is to complete); until it has started, a page
            says so and the API answers 503.
        host, port: where to listen; port 0 picks a free one (see ``DashboardServer.url``).
        extra_patterns: Tornado rules served next to the dashboard (``mount(app)`` hands a
            whole application, such as the REST API, its paths).
        demo: also serve the demo step services under ``/demo`` and register the demo catalog.
        register_demo: register the demo catalog now (False: the caller does, once the
            engine it serves before starting it has started).
        title: the browser tab's title.
        max_body_size: the largest request body the server reads.
        tokens: who may open the dashboard (``?token=`` once, then a cookie), and what
            each page may do (an ``Engine`` only; None: anyone, everything).
    """
    port = port or free_port(host)
    url = base_url_of(host, port)
    service = DemoService() if demo else None
    patterns = [*extra_patterns, *(service.routes() if service else [])]
    feeds: set[Feed] = set()
    server = _bokeh_server(
        engine, host, port, patterns, title, feeds, max_body_size, demo, _auth_options(tokens)
    )
    server.start()
    running = DashboardServer(server, url, service, feeds)
    if service is not None and register_demo:
        await install_demo(engine, url)
    return running


STARTING = "Argyll is starting: it is reading its running flows back. Reload in a moment."
DISCONNECTED = "Connection lost: the dashboard's server stopped. Reload once it is back."


def _page(engine: EngineSource, feeds: set[Feed], demo: bool, guarded: bool) -> Any:
    """One session's page; if the browser loses this server, the page says so.

    The engine's connection state is in the page's header; this covers the other
    link, the browser's WebSocket to the process serving the page. Panel's
    automatic reconnection is left off: against a restarted server it fails to
    re-pull the session (Bokeh 3.9, "buffer not found") and leaves a stale toast.
    """
    if isinstance(engine, Engine) and not engine.started:
        return pn.pane.Markdown(STARTING)
    pn.config.notifications = True
    pn.config.disconnect_notification = DISCONNECTED
    doc = pn.state.curdoc
    context = doc.session_context if doc is not None else None
    who = caller(context.request if context is not None else None, guarded)
    if who is not OPEN and isinstance(engine, Engine):
        engine = ActingEngine(engine, who)
    return dashboard(engine, feeds=feeds, presets=DEMO_PRESETS if demo else (), caller=who)


def _auth_options(tokens: TokenFile | None) -> dict[str, Any]:
    """The Bokeh server's options for ``tokens``: its auth provider, and no token in a page."""
    if tokens is None:
        return {}
    return {
        "auth_provider": TokenAuth(tokens),
        "exclude_headers": list(EXCLUDED_HEADERS),
        "exclude_cookies": [TOKEN_COOKIE],
    }


def _bokeh_server(
    engine: EngineSource,
    host: str,
    port: int,
    patterns: list[Any],
    title: str,
    feeds: set[Feed],
    max_body_size: int,
    demo: bool,
    auth: dict[str, Any],
) -> Server:
    """The Panel server, with resources served locally and the loop's SIGINT handler kept."""
    bokeh_settings.resources.set_value("server")
    origins = sorted({f"{host}:{port}", f"localhost:{port}", f"127.0.0.1:{port}"})
    previous = signal.getsignal(signal.SIGINT)
    try:
        server = get_server(
            {"/": lambda: _page(engine, feeds, demo, bool(auth))},
            port=port,
            address=host,
            websocket_origin=origins,
            start=False,
            show=False,
            title=title,
            extra_patterns=patterns,
            http_server_kwargs={"max_body_size": max_body_size},
            default_handler_class=NoRouteHandler,
            **auth,
        )
    finally:
        with contextlib.suppress(ValueError):
            signal.signal(signal.SIGINT, previous)
    return server
