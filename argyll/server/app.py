"""The Tornado application: every route of the HTTP API, and serving it on the running loop.

``make_app`` wires the handlers to one ``Engine``; ``serve`` binds and starts an
``HTTPServer`` for it and hands back a ``Server`` to stop. Tornado's own
``max_body_size`` is the hard cap on every connection; the API handlers check
the same limit from ``Content-Length`` first, so a client gets a problem+json
413 instead of a dropped connection. Every request, whatever handler answered
it, is counted in the engine's metrics by its route template (``log_request``).
"""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application, RequestHandler

from argyll import wire
from argyll.redaction import redact_path
from argyll.runtime.engine import Engine
from argyll.runtime.fanout import FeedFanout
from argyll.runtime.metrics import UNMATCHED_ROUTE
from argyll.server import handlers as h
from argyll.server.feed import CatalogEventsHandler, FeedHandler
from argyll.server.openapi import openapi_document
from argyll.server.tokens import TokenFile
from argyll.server.ws import DEFAULT_MAX_CLIENTS, DEFAULT_QUEUE_LIMIT, EventSocket
from argyll.wire import CLOSE_GOING_AWAY

DEFAULT_MAX_BODY_SIZE = h.DEFAULT_MAX_BODY_SIZE
_SEGMENT = r"([^/]+)"

access_log = logging.getLogger("argyll.access")


def make_app(
    engine: Engine,
    *,
    max_body_size: int = DEFAULT_MAX_BODY_SIZE,
    ws_queue_limit: int = DEFAULT_QUEUE_LIMIT,
    ws_max_clients: int = DEFAULT_MAX_CLIENTS,
    extra_routes: Sequence[Any] = (),
    tokens: TokenFile | None = None,
) -> Application:
    """The application serving ``engine``.

    Args:
        engine: the ``Engine`` served; until it has started, every call is answered 503
            (``engine-starting``, with ``Retry-After``).
        max_body_size: the largest request body accepted, in bytes (larger: 413).
        ws_queue_limit: how many events a WebSocket client may fall behind before it is closed.
        ws_max_clients: how many WebSocket clients may be connected at once (more: 503).
        extra_routes: Tornado rules matched before the API's (the dashboard takes ``/`` this way).
        tokens: the tokens every call is checked against (None: none configured, all open).
    """
    api = {"engine": engine, "max_body_size": max_body_size}
    sockets: set[EventSocket] = set()
    fanout = FeedFanout(engine.events)
    socket_args = {
        "engine": engine,
        "sockets": sockets,
        "fanout": fanout,
        "queue_limit": ws_queue_limit,
        "max_clients": ws_max_clients,
    }
    templates: list[tuple[str, type[RequestHandler], dict[str, Any]]] = [
        ("/", h.IndexHandler, api),
        (wire.HEALTH_PATH, h.ServiceHealthHandler, api),
        (wire.METRICS_PATH, h.MetricsHandler, api),
        (wire.ENGINE_PATH, h.EngineHandler, api),
        (wire.OPENAPI_PATH, h.OpenApiHandler, api),
        (wire.STEPS_PATH, h.StepsHandler, api),
        (wire.STEP_PATH, h.StepHandler, api),
        (wire.HEALTHS_PATH, h.HealthListHandler, api),
        (wire.STEP_HEALTH_PATH, h.StepHealthHandler, api),
        (wire.PLAN_PATH, h.PlanHandler, api),
        (wire.FLOWS_PATH, h.FlowsHandler, api),
        (wire.FLOW_QUERY_PATH, h.FlowQueryHandler, api),
        (wire.FLOW_PATH, h.FlowHandler, api),
        (wire.FLOW_STATUS_PATH, h.FlowStatusHandler, api),
        (wire.FLOW_EVENTS_PATH, h.FlowEventsHandler, api),
        (wire.FLOW_CANCEL_PATH, h.CancelHandler, api),
        (wire.FLOW_PAUSE_PATH, h.PauseHandler, api),
        (wire.FLOW_RESUME_PATH, h.ResumeHandler, api),
        (wire.FLOW_RETRY_PATH, h.RetryHandler, api),
        (wire.FLOW_EXPLAIN_PATH, h.ExplainHandler, api),
        (wire.STEP_COMPLETE_PATH, h.CompleteStepHandler, api),
        (wire.STEP_SKIP_PATH, h.SkipStepHandler, api),
        (wire.FEED_PATH, FeedHandler, api),
        (wire.CATALOG_EVENTS_PATH, CatalogEventsHandler, api),
        (wire.WEBHOOK_PATH, h.WebhookHandler, api),
        (wire.EVENTS_PATH, EventSocket, socket_args),
    ]
    routes = [*extra_routes, *((_pattern(t), cls, args) for t, cls, args in templates)]
    return Application(
        routes,
        default_handler_class=h.NoRouteHandler,
        log_function=log_request,
        argyll_sockets=sockets,
        argyll_fanout=fanout,
        argyll_openapi=openapi_document(),
        argyll_metrics=engine.metrics,
        argyll_routes=route_labels(templates, extra_routes),
        argyll_tokens=tokens,
    )


def route_labels(
    templates: Sequence[tuple[str, Any, Any]], extra_routes: Sequence[Any]
) -> dict[type, str]:
    """The ``route`` label of each handler class: its path template, or for an extra route
    given as ``(pattern, handler, ...)`` its pattern; anything else counts as unmatched."""
    labels = {cls: template for template, cls, _ in templates}
    for rule in extra_routes:
        if isinstance(rule, tuple) and len(rule) > 1 and isinstance(rule[1], type):
            labels.setdefault(rule[1], str(rule[0]))
    return labels


def _pattern(template: str) -> str:
    """The route of a ``wire`` path template: each ``{name}`` matches one path segment."""
    return re.sub(r"\\\{\w+\\\}", _SEGMENT, re.escape(template))


def log_request(handler: RequestHandler) -> None:
    """Count the request by its route template, then one access line: debug when fine, info
    for 4xx and for the 503 of an engine still starting (an answer, not a fault), error for
    other 5xx (the path only, a webhook's token masked: never a header, a query or a body)."""
    status = handler.get_status()
    settings = handler.settings
    route = settings["argyll_routes"].get(type(handler), UNMATCHED_ROUTE)
    settings["argyll_metrics"].http_request(route, handler.request.method or "", status)
    level = _access_level(handler, status)
    if access_log.isEnabledFor(level):
        request = handler.request
        access_log.log(
            level,
            "request method=%s path=%s status=%d duration_ms=%.1f",
            request.method,
            redact_path(request.path),
            status,
            request.request_time() * 1000,
        )


def _access_level(handler: RequestHandler, status: int) -> int:
    if status < 400:
        return logging.DEBUG
    engine = getattr(handler, "engine", None)
    if status < 500 or (status == 503 and engine is not None and not engine.started):
        return logging.INFO
    return logging.ERROR


def bind(host: str, port: int) -> list[socket.socket]:
    """Listening sockets for ``host:port`` (port 0 picks a free one, the same on every address)."""
    return bind_sockets(port, host)


@dataclass(slots=True)
class Server:
    """A running server; ``aclose`` stops it (the engine is the caller's to close)."""

    http: HTTPServer
    app: Application
    url: str

    async def aclose(self) -> None:
        """Stop accepting, say goodbye to WebSocket clients, close every connection."""
        self.http.stop()
        for client in list(self.app.settings["argyll_sockets"]):
            client.shut(CLOSE_GOING_AWAY, "the server is shutting down")
        await self.http.close_all_connections()


async def serve(
    engine: Engine,
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    sockets: list[socket.socket] | None = None,
    max_body_size: int = DEFAULT_MAX_BODY_SIZE,
    ws_queue_limit: int = DEFAULT_QUEUE_LIMIT,
    ws_max_clients: int = DEFAULT_MAX_CLIENTS,
    extra_routes: Sequence[Any] = (),
    tokens: TokenFile | None = None,
) -> Server:
    """Serve ``engine`` on the running loop and return at once; the port is bound on return.

    Args:
        engine: the ``Engine`` served; until it has started, every call is answered 503
            (``engine-starting``, with ``Retry-After``).
        host, port: where to listen (port 0: a free port; see ``Server.url``).
        sockets: already bound sockets to serve on instead of ``host``/``port``.
        max_body_size, ws_queue_limit, ws_max_clients, extra_routes, tokens: as for ``make_app``.
    """
    app = make_app(
        engine,
        max_body_size=max_body_size,
        ws_queue_limit=ws_queue_limit,
        ws_max_clients=ws_max_clients,
        extra_routes=extra_routes,
        tokens=tokens,
    )
    http = HTTPServer(app, max_body_size=max_body_size)
    listening = sockets if sockets is not None else bind(host, port)
    http.add_sockets(listening)
    return Server(http, app, base_url(listening[0]))


def base_url(listening: socket.socket) -> str:
    """``http://host:port`` for a bound socket (IPv6 hosts in brackets)."""
    host, port = listening.getsockname()[:2]
    return base_url_of(host, port)


def base_url_of(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (for servers that bind their own sockets)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])
