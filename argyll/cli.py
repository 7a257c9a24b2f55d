"""The ``argyll`` command: ``argyll serve`` runs the engine and its HTTP face in one process.

Settings come from flags, then the environment (``ARGYLL_STORE``,
``ARGYLL_WEBHOOK_BASE_URL``), then defaults. Once the port is bound the command
prints one line to stdout, ``argyll serving on http://HOST:PORT store=URL``,
whatever the log level, so scripts and tests can wait for it. Logs go to stderr
as ``key=value`` lines; the default level, ``warning``, shows what needs
attention (failed steps and flows, retries); ``info`` adds flows started and
completed and refused requests; ``debug`` adds every request. SIGTERM or Ctrl-C
stops accepting connections, closes the engine and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit, urlunsplit

from tornado.web import Application

from argyll.errors import ArgyllError
from argyll.events import Event, FlowStarted
from argyll.runtime.engine import Engine
from argyll.server.app import (
    DEFAULT_MAX_BODY_SIZE,
    base_url,
    base_url_of,
    bind,
    free_port,
    make_app,
    serve,
)
from argyll.server.ws import CLOSE_GOING_AWAY
from argyll.store import default_sqlite_url

LOG_FORMAT = "%(asctime)s level=%(levelname)s logger=%(name)s %(message)s"
LOG_LEVELS = ("debug", "info", "warning", "error")

log = logging.getLogger("argyll.cli")
event_log = logging.getLogger("argyll.events")

# Events worth a log line, and how loud.
NOTABLE_EVENTS = {
    "flow_started": logging.INFO,
    "flow_completed": logging.INFO,
    "flow_failed": logging.WARNING,
    "step_failed": logging.WARNING,
    "work_retry_scheduled": logging.WARNING,
}
_EVENT_FIELDS = ("flow_id", "step_id", "token", "retry_count", "next_retry_at", "error")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="argyll", description="A goal-driven orchestrator.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve_cmd = commands.add_parser(
        "serve",
        help="serve the REST API, WebSocket and webhooks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve_cmd.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve_cmd.add_argument("--port", type=int, default=8080, help="port (0: any free port)")
    serve_cmd.add_argument(
        "--store", help="store URL (default: $ARGYLL_STORE, else SQLite under $ARGYLL_HOME)"
    )
    serve_cmd.add_argument(
        "--webhook-base-url",
        help="prefix of webhook URLs given to async steps "
        "(default: $ARGYLL_WEBHOOK_BASE_URL, else the served address)",
    )
    serve_cmd.add_argument(
        "--redis-prefix",
        help="key prefix in a redis:// store (default argyll:; same as ?prefix= in the URL)",
    )
    serve_cmd.add_argument(
        "--demo",
        action="store_true",
        help="register the demo catalog and serve its step services under /demo",
    )
    serve_cmd.add_argument(
        "--no-dashboard",
        action="store_true",
        help="serve only the API (lighter: no Panel/Bokeh in the process)",
    )
    serve_cmd.add_argument("--log-level", choices=LOG_LEVELS, default="warning")
    serve_cmd.add_argument(
        "--max-body-size",
        type=_positive_int,
        default=DEFAULT_MAX_BODY_SIZE,
        metavar="BYTES",
        help=f"largest request body accepted (default {DEFAULT_MAX_BODY_SIZE})",
    )
    return parser


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return int(text)


def store_url(args: argparse.Namespace) -> str:
    url = args.store or os.environ.get("ARGYLL_STORE") or default_sqlite_url()
    if getattr(args, "redis_prefix", None) and url.startswith(("redis", "rediss")):
        url += ("&" if "?" in url else "?") + urlencode({"prefix": args.redis_prefix})
    return url


def webhook_base_url(args: argparse.Namespace, served_url: str) -> str:
    return args.webhook_base_url or os.environ.get("ARGYLL_WEBHOOK_BASE_URL") or served_url


def engine_options(args: argparse.Namespace, served_url: str) -> dict[str, Any]:
    """The keyword arguments ``Engine`` is built with for ``argyll serve``."""
    return {"store": store_url(args), "webhook_base_url": webhook_base_url(args, served_url)}


def redact(url: str) -> str:
    """``url`` with any password masked, fit for a log."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def kv(**fields: object) -> str:
    """``key=value`` pairs; values with spaces, quotes or ``=`` are JSON-quoted."""
    return " ".join(
        f"{key}={_kv_value(value)}" for key, value in fields.items() if value is not None
    )


def _kv_value(value: object) -> str:
    text = str(value)
    if not text or any(c in text for c in ' "=\n\t'):
        return json.dumps(text)
    return text


def describe(event: Event) -> str:
    fields = {name: getattr(event.data, name, None) for name in _EVENT_FIELDS}
    if isinstance(event.data, FlowStarted):
        fields["goals"] = ",".join(event.data.plan.goals)
    return kv(event=event.type, **fields)


async def log_events(engine: Engine) -> None:
    """One log line per notable event of the feed, from now on."""
    async for event in engine.events(None):
        level = NOTABLE_EVENTS.get(event.type)
        if level is not None and event_log.isEnabledFor(level):
            event_log.log(level, "%s", describe(event))


class Serving(Protocol):
    url: str

    async def aclose(self) -> None: ...


async def run(args: argparse.Namespace) -> int:
    """Serve until SIGTERM or SIGINT; 0 after a clean stop, 1 if the server could not start."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    started = await start(args)
    if started is None:
        return 1
    engine, server = started
    watcher = asyncio.create_task(log_events(engine), name="argyll-event-log")
    print(f"argyll serving on {server.url} store={redact(engine.store.url)}", flush=True)
    await stop.wait()
    log.info("%s", kv(event="stopping", url=server.url))
    await server.aclose()
    watcher.cancel()
    await asyncio.gather(watcher, return_exceptions=True)
    await engine.aclose()
    return 0


async def start(args: argparse.Namespace) -> tuple[Engine, Serving] | None:
    """Start the engine (its webhook base is the served address), then serve it."""
    try:
        if args.no_dashboard:
            sockets = bind(args.host, args.port)
            url = base_url(sockets[0])
        else:
            port = args.port or free_port(args.host)
            url = base_url_of(args.host, port)
    except OSError as exc:
        print(f"argyll: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return None
    engine = Engine(**engine_options(args, url))
    try:
        await engine.start()
    except ArgyllError as exc:
        print(f"argyll: cannot start the engine: {exc}", file=sys.stderr)
        await engine.aclose()
        return None
    if args.no_dashboard:
        return engine, await serve(engine, sockets=sockets, max_body_size=args.max_body_size)
    return engine, await serve_with_dashboard(engine, args, port)


async def serve_with_dashboard(engine: Engine, args: argparse.Namespace, port: int) -> Serving:
    """One Bokeh/Panel server: the dashboard at /, the API mounted beside it."""
    from argyll.ui.serve import mount, serve_dashboard

    api = make_app(engine, max_body_size=args.max_body_size)
    dashboard = await serve_dashboard(
        engine,
        host=args.host,
        port=port,
        extra_patterns=[mount(api)],
        demo=args.demo,
        max_body_size=args.max_body_size,
    )
    return DashboardAndApi(dashboard, api)


class DashboardAndApi:
    """Stops the dashboard server and says goodbye to the API's WebSocket clients."""

    def __init__(self, dashboard: Serving, api: Application) -> None:
        self.dashboard, self.api, self.url = dashboard, api, dashboard.url

    async def aclose(self) -> None:
        for client in list(self.api.settings["argyll_sockets"]):
            client.shut(CLOSE_GOING_AWAY, "the server is shutting down")
        await self.dashboard.aclose()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format=LOG_FORMAT, stream=sys.stderr)
    return asyncio.run(run(args))
