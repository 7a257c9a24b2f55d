"""``argyll serve``: one process serving the engine's REST API, WebSocket, webhooks and dashboard.

Settings come from flags, then the environment, then defaults. Once the port is
bound it prints one line to stdout, ``argyll serving on http://HOST:PORT
store=URL``, whatever the log level, so scripts and tests can wait for it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import os
import re
import signal
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode

import click
from tornado.web import Application

from argyll import logs
from argyll.cli.workers import bind_for_workers, inherited_sockets, is_worker, supervise
from argyll.demo import install_demo
from argyll.errors import ArgyllError, ValidationError
from argyll.events import Event, FlowStarted
from argyll.outbound import ALLOW_ALL, OutboundPolicy, parse_policy
from argyll.redaction import redact_url
from argyll.runtime.engine import Engine
from argyll.runtime.retention import RetentionPolicy
from argyll.runtime.scripts import DEFAULT_LIMITS, ScriptLimits
from argyll.server.app import (
    DEFAULT_MAX_BODY_SIZE,
    base_url,
    base_url_of,
    bind,
    free_port,
    make_app,
)
from argyll.server.app import serve as serve_api
from argyll.server.tokens import TokenFile
from argyll.server.ws import DEFAULT_MAX_CLIENTS, DEFAULT_QUEUE_LIMIT
from argyll.store import default_sqlite_url, open_store
from argyll.wire import CLOSE_GOING_AWAY, METRICS_PATH

log = logging.getLogger("argyll.cli")
event_log = logging.getLogger("argyll.events")

# Events worth a log line, and how loud.
NOTABLE_EVENTS = {
    "flow_started": logging.INFO,
    "flow_completed": logging.INFO,
    "flow_failed": logging.WARNING,
    "flow_paused": logging.INFO,
    "flow_resumed": logging.INFO,
    "flow_canceled": logging.WARNING,
    "flow_retried": logging.INFO,
    "step_failed": logging.WARNING,
    "work_retry_scheduled": logging.WARNING,
    "comp_retry_scheduled": logging.WARNING,
    "comp_failed": logging.ERROR,  # a change that was not undone: it needs a person
}
# Never a work item's token: it is the receipt token that completes the work by webhook.
_EVENT_FIELDS = ("flow_id", "step_id", "retry_count", "next_retry_at", "error")

HELP = """Serve the REST API, WebSocket, webhooks and the dashboard (at /).

\b
Store URLs: sqlite:///PATH (durable; the default lives under $ARGYLL_HOME,
default ~/.argyll), memory:// (gone at exit), redis://HOST:PORT/DB (shared by
any number of engine instances; rediss:// over TLS, user:password@ to log in:
the password is shown as *** everywhere).

--allow-hosts limits where HTTP steps and health checks may call: host names,
*.domain and CIDR networks; the addresses a name resolves to are checked again
before each connection. The limits (body size, WebSocket clients and queues,
script budgets) are refused or failed with a message naming them.

Logs go to stderr as key=value lines, or with --log-format json one JSON
object a line (time, level, logger, message, flow_id and step_id where known).
The default level, warning, shows what needs attention (failed steps and flows,
retries); info adds flows started and completed and refused requests; debug
adds every request. Prometheus scrapes GET /metrics.

With --tokens FILE every call needs a token of that file (docs/security.md;
mint one with `argyll token new NAME --scopes read|run|admin`); the file is
read again when it changes, or on SIGHUP. Without tokens the server listens
only on a loopback address, unless --allow-anonymous. SIGTERM or Ctrl-C
stops accepting connections, closes the engine and exits 0; a server that
cannot start (port in use, bad store) prints one line and exits 1.

The port is bound at once: until the engine has read its running flows back (a
restart with many takes seconds), every call is answered 503 with Retry-After.
--workers N serves the port from N engine processes on the one store (any of
them takes any call, webhooks too); the dashboard needs --workers 1.
"""


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """The flags of ``argyll serve``, as given (None: not given)."""

    host: str = "127.0.0.1"
    port: int = 8080
    store: str | None = None
    webhook_base_url: str | None = None
    redis_prefix: str | None = None
    demo: bool = False
    no_dashboard: bool = False
    log_level: str = "warning"
    log_format: str = "text"
    max_body_size: int = DEFAULT_MAX_BODY_SIZE
    allow_hosts: OutboundPolicy = ALLOW_ALL
    ws_max_clients: int = DEFAULT_MAX_CLIENTS
    ws_queue_size: int = DEFAULT_QUEUE_LIMIT
    ale_steps: int = DEFAULT_LIMITS.ale_steps
    lua_instructions: int = DEFAULT_LIMITS.lua_instructions
    lua_memory: int = DEFAULT_LIMITS.lua_memory
    tokens: str | None = None
    allow_anonymous: bool = False
    retention: float | None = None
    archive: Path | None = None
    workers: int = 1


def _policy(_ctx: click.Context, _param: click.Parameter, value: tuple[str, ...]) -> OutboundPolicy:
    try:
        return parse_policy(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command(help=HELP)
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on")
@click.option("--port", type=int, default=8080, show_default=True, help="port (0: any free port)")
@click.option(
    "--store",
    metavar="URL",
    help="store URL (default: $ARGYLL_STORE, else SQLite under $ARGYLL_HOME)",
)
@click.option(
    "--webhook-base-url",
    metavar="URL",
    help="prefix of webhook URLs given to async steps "
    "(default: $ARGYLL_WEBHOOK_BASE_URL, else the served address)",
)
@click.option(
    "--redis-prefix",
    metavar="PREFIX",
    help="key prefix in a redis:// store (default argyll:; same as ?prefix= in the URL)",
)
@click.option(
    "--demo",
    is_flag=True,
    help="register the demo catalog and serve its step services under /demo",
)
@click.option(
    "--no-dashboard",
    is_flag=True,
    help="serve only the API (lighter: no Panel/Bokeh in the process)",
)
@click.option(
    "--log-level", type=click.Choice(logs.LOG_LEVELS), default="warning", show_default=True
)
@click.option(
    "--log-format",
    type=click.Choice(logs.LOG_FORMATS),
    default="text",
    show_default=True,
    help="key=value lines, or one JSON object a line",
)
@click.option(
    "--max-body-size",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_BODY_SIZE,
    show_default=True,
    metavar="BYTES",
    help="largest request body accepted",
)
@click.option(
    "--allow-hosts",
    multiple=True,
    metavar="ENTRIES",
    envvar="ARGYLL_ALLOW_HOSTS",
    callback=_policy,
    help="where HTTP steps and health checks may call: host names, *.domain (its "
    "subdomains) and CIDR networks, comma-separated, repeatable "
    "(default: $ARGYLL_ALLOW_HOSTS, else anywhere)",
)
@click.option(
    "--ws-max-clients",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_CLIENTS,
    show_default=True,
    help="WebSocket clients connected at once (one more is refused with 503)",
)
@click.option(
    "--ws-queue-size",
    type=click.IntRange(min=1),
    default=DEFAULT_QUEUE_LIMIT,
    show_default=True,
    metavar="EVENTS",
    help="events a WebSocket client may fall behind before it is closed (1013)",
)
@click.option(
    "--ale-steps",
    type=click.IntRange(min=1),
    default=DEFAULT_LIMITS.ale_steps,
    show_default=True,
    help="evaluation steps one run of an Ale script may take",
)
@click.option(
    "--lua-instructions",
    type=click.IntRange(min=1),
    default=DEFAULT_LIMITS.lua_instructions,
    show_default=True,
    help="VM instructions one run of a Lua script may execute",
)
@click.option(
    "--lua-memory",
    type=click.IntRange(min=1),
    default=DEFAULT_LIMITS.lua_memory,
    show_default=True,
    metavar="BYTES",
    help="memory one run of a Lua script may allocate",
)
@click.option(
    "--tokens",
    metavar="FILE",
    envvar="ARGYLL_TOKENS_FILE",
    help="the tokens file (TOML or JSON) every call is checked against "
    "(default: $ARGYLL_TOKENS_FILE; none: open, on a loopback address only)",
)
@click.option(
    "--allow-anonymous",
    is_flag=True,
    help="serve without tokens on a non-loopback address (anyone who reaches it may do anything)",
)
@click.option(
    "--retention",
    type=click.FloatRange(min=0, min_open=True),
    metavar="DAYS",
    help="remove the history of flows that ended more than DAYS ago (a sweep at start, "
    "then hourly; default: keep everything)",
)
@click.option(
    "--archive",
    type=click.Path(file_okay=False, writable=True, path_type=Path),
    metavar="DIR",
    help="with --retention: write the events of flows to be removed to DIR first, one "
    "gzip file of JSON lines per UTC day (read them with `argyll archive read`)",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="engine processes serving the one port on the one store; with more than one "
    "the dashboard is not served (its sessions live in one process)",
)
def serve(**flags: Any) -> None:
    options = ServeOptions(**flags)
    if options.archive is not None and options.retention is None:
        raise click.UsageError("--archive needs --retention DAYS (nothing is removed without it)")
    logs.configure(options.log_level, options.log_format)
    if options.workers > 1:
        if options.demo:
            raise click.UsageError("--demo needs the dashboard, which only --workers 1 serves")
        if store_url(options).startswith("memory:"):
            raise click.UsageError("workers share their store: give --workers SQLite or Redis")
        options = replace(options, no_dashboard=True)
        if not is_worker():
            click.get_current_context().exit(asyncio.run(run_workers(options)))
    click.get_current_context().exit(asyncio.run(run(options)))


async def run_workers(options: ServeOptions) -> int:
    """Bind the port, then serve it from ``options.workers`` worker processes."""
    try:
        access_tokens(options)
        sockets = bind_for_workers(options.host, options.port, options.workers)
    except AccessRefused as refused:
        print(f"argyll: {refused}", file=sys.stderr)
        return 1
    except OSError as exc:
        cannot_listen(options, exc)
        return 1
    try:
        await _prepare_store(store_url(options))
    except ArgyllError as exc:
        print(f"argyll: cannot open the store: {exc}", file=sys.stderr)
        return 1
    try:
        return await supervise(sys.argv[1:], sockets)
    finally:
        for listening in {each for own in sockets for each in own}:
            listening.close()


async def _prepare_store(url: str) -> None:
    """Open the store once before the workers do, so a new SQLite file is created and
    migrated by one process rather than raced for by N."""
    async with await open_store(url):
        pass


def store_url(options: ServeOptions) -> str:
    url = options.store or os.environ.get("ARGYLL_STORE") or default_sqlite_url()
    if options.redis_prefix and url.startswith(("redis", "rediss")):
        url += ("&" if "?" in url else "?") + urlencode({"prefix": options.redis_prefix})
    return url


def webhook_base_url(options: ServeOptions, served_url: str) -> str:
    return options.webhook_base_url or os.environ.get("ARGYLL_WEBHOOK_BASE_URL") or served_url


def engine_options(options: ServeOptions, served_url: str) -> dict[str, Any]:
    """The keyword arguments ``Engine`` is built with for ``argyll serve``."""
    return {
        "store": store_url(options),
        "webhook_base_url": webhook_base_url(options, served_url),
        "outbound": options.allow_hosts,
        "script_limits": ScriptLimits(
            options.ale_steps, options.lua_instructions, options.lua_memory
        ),
        "retention": None
        if options.retention is None
        else RetentionPolicy(options.retention, options.archive),
    }


def server_options(options: ServeOptions, tokens: TokenFile | None = None) -> dict[str, Any]:
    """The keyword arguments the API application is made with for ``argyll serve``."""
    return {
        "max_body_size": options.max_body_size,
        "ws_queue_limit": options.ws_queue_size,
        "ws_max_clients": options.ws_max_clients,
        "tokens": tokens,
    }


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


def log_event(event: Event) -> None:
    """One log line for a notable event (the engine's follower hands each one here)."""
    level = NOTABLE_EVENTS.get(event.type)
    if level is not None and event_log.isEnabledFor(level):
        event_log.log(level, "%s", describe(event), extra=log_context(event))


def logged(aggregate: str, event_type: str) -> bool:
    """Whether ``log_event`` prints events of this type at the level set now: the engine
    decodes the others' data only for the flows it needs them of."""
    level = NOTABLE_EVENTS.get(event_type)
    return level is not None and event_log.isEnabledFor(level)


def log_context(event: Event) -> dict[str, str]:
    """The flow and step ids of an event, as ``extra`` for its log line."""
    names = logs.CONTEXT_FIELDS
    return {name: value for name in names if (value := getattr(event.data, name, None))}


class Serving(Protocol):
    url: str

    async def aclose(self) -> None: ...


async def run(options: ServeOptions) -> int:
    """Serve until SIGTERM or SIGINT; 0 after a clean stop, 1 if the server could not start."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        tokens = access_tokens(options)
    except AccessRefused as refused:
        print(f"argyll: {refused}", file=sys.stderr)
        return 1
    if tokens is not None:
        loop.add_signal_handler(signal.SIGHUP, tokens.reload)
    started = await start(options, tokens)
    if started is None:
        return 1
    engine, server = started
    print(f"argyll serving on {server.url} store={redact_url(engine.store.url)}", flush=True)
    await stop.wait()
    log.info("%s", kv(event="stopping", url=server.url))
    await server.aclose()
    await engine.aclose()
    return 0


class AccessRefused(Exception):
    """Why ``argyll serve`` will not start with the access it was given."""


def access_tokens(options: ServeOptions) -> TokenFile | None:
    """The tokens file, read once now; None when there is none and that is safe.

    Without tokens only a loopback address is served (or any, with ``--allow-anonymous``).
    """
    if options.tokens:
        try:
            return TokenFile(options.tokens)
        except (OSError, ValidationError) as exc:
            raise AccessRefused(f"cannot use the tokens file {options.tokens}: {exc}") from None
    if options.allow_anonymous or is_loopback(options.host):
        return None
    raise AccessRefused(
        f"refusing to serve on {options.host} without tokens: anyone who can reach it could "
        "register steps (which call any URL) and run flows. Give --tokens FILE (or "
        "ARGYLL_TOKENS_FILE; mint one with `argyll token new admin --scopes admin`), "
        "listen on 127.0.0.1, or pass --allow-anonymous on a network you trust."
    )


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (or ``localhost``); a name or ``0.0.0.0`` is not."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


async def start(
    options: ServeOptions, tokens: TokenFile | None = None
) -> tuple[Engine, Serving] | None:
    """Serve at once, then start the engine (its webhook base is the served address).

    The port is bound first and answers 503 with ``Retry-After`` until the engine has
    read its running flows back (a restart with many may take seconds). None, after
    one line on stderr, when the port cannot be had or the store not opened.
    """
    try:
        if options.no_dashboard:
            sockets = inherited_sockets() or bind(options.host, options.port)
            url = base_url(sockets[0])
        else:
            port = options.port or free_port(options.host)
            url = base_url_of(options.host, port)
    except OSError as exc:
        cannot_listen(options, exc)
        return None
    engine = Engine(**engine_options(options, url))
    engine.on_event(log_event, logged)
    try:
        if options.no_dashboard:
            server: Serving = await serve_api(
                engine, sockets=sockets, **server_options(options, tokens)
            )
        else:
            server = await serve_with_dashboard(engine, options, port, tokens)
    except OSError as exc:
        cannot_listen(options, exc)
        return None
    log.info("%s", kv(event="starting", url=url))
    try:
        await engine.start()
        if options.demo and not options.no_dashboard:
            await install_demo(engine, url)
    except ArgyllError as exc:
        print(f"argyll: cannot start the engine: {exc}", file=sys.stderr)
        await server.aclose()
        await engine.aclose()
        return None
    return engine, server


def cannot_listen(options: ServeOptions, error: OSError) -> None:
    print(f"argyll: cannot listen on {options.host}:{options.port}: {error}", file=sys.stderr)


async def serve_with_dashboard(
    engine: Engine, options: ServeOptions, port: int, tokens: TokenFile | None = None
) -> Serving:
    """One Bokeh/Panel server: the dashboard at /, the API (and ``/metrics``) mounted beside it."""
    from argyll.ui.serve import mount, serve_dashboard

    api = make_app(engine, **server_options(options, tokens))
    dashboard = await serve_dashboard(
        engine,
        host=options.host,
        port=port,
        extra_patterns=[mount(api), mount(api, re.escape(METRICS_PATH))],
        demo=options.demo,
        register_demo=False,
        max_body_size=options.max_body_size,
        tokens=tokens,
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
