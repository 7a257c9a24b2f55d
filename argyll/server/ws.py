"""``GET /engine/ws[?flow_id=]``: the event feed over a WebSocket, one JSON event per message.

Without ``flow_id`` a client gets every event appended after it connected. With
``flow_id`` it gets that flow's past events, then its live ones, in ``seq``
order with no gap or duplicate: the feed position is taken *before* the past
events are read, the live feed starts there, and live events the past already
held are dropped. A ``flow_id`` that names no flow yet is not an error: the
client waits for the flow to start (so it can connect before starting it).

Each connection runs two tasks of its own, both cancelled on close: a pump that
reads the feed as fast as it comes and never waits for the client, and a
sender that writes to the client. Between them is a bounded ``Outbox``; a client
that falls ``queue_limit`` events behind is closed with 1013 (try again later)
and should reconnect with ``flow_id`` to catch up. A slow client therefore never
slows the engine or the other clients. At most ``max_clients`` are connected at
once; one more is refused before the handshake with a 503 problem.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from tornado.web import HTTPError
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from argyll.access import bearer
from argyll.errors import ArgyllError, NotFoundError, ValidationError
from argyll.events import Event, flow_aggregate
from argyll.model import ID_PATTERN, json_text
from argyll.runtime.engine import Engine
from argyll.server.handlers import caller_of, check_started
from argyll.server.problem import write_problem
from argyll.wire import (
    CLOSE_GOING_AWAY,
    CLOSE_INTERNAL_ERROR,
    CLOSE_TRY_AGAIN_LATER,
    TOKEN_COOKIE,
    TOKEN_QUERY,
)

log = logging.getLogger("argyll.server")

DEFAULT_QUEUE_LIMIT = 1000
DEFAULT_MAX_CLIENTS = 1000


class Outbox:
    """A client's bounded queue: offering never waits, and a full queue refuses."""

    def __init__(self, limit: int) -> None:
        self._queue: asyncio.Queue[str] = asyncio.Queue(limit)

    def offer(self, message: str) -> bool:
        """Queue ``message``; False when the client is already ``limit`` messages behind."""
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            return False
        return True

    async def take(self) -> str:
        return await self._queue.get()

    def __len__(self) -> int:
        return self._queue.qsize()


class EventSocket(WebSocketHandler):
    def initialize(
        self,
        engine: Engine,
        sockets: set[EventSocket],
        queue_limit: int = DEFAULT_QUEUE_LIMIT,
        max_clients: int = DEFAULT_MAX_CLIENTS,
    ) -> None:
        self.engine = engine
        self.sockets = sockets
        self.queue_limit, self.max_clients = queue_limit, max_clients
        self._head = ""
        self._aggregate: str | None = None
        self._past: list[dict[str, Any]] = []
        self._last_past_seq = 0
        self._tasks: list[asyncio.Task[None]] = []

    async def prepare(self) -> None:
        """Check the token, then fix the feed position (and read the flow's past), all before
        the handshake answers: a refused client gets a 401 or 403, never a socket."""
        caller_of(self, self._secret())
        check_started(self.engine)
        flow_id = self.get_query_argument("flow_id", None)
        if flow_id is not None and not ID_PATTERN.fullmatch(flow_id):
            raise ValidationError(
                [("flow_id", f"must match [A-Za-z0-9_.-]+, got {json_text(flow_id)}")]
            )
        self._head = await self.engine.store.head()
        if flow_id is not None:
            self._aggregate = flow_aggregate(flow_id)
            self._past = await _past_events(self.engine, flow_id)
            self._last_past_seq = self._past[-1]["seq"] if self._past else 0
        self._check_room()

    def _check_room(self) -> None:
        """Refuse a client over ``max_clients``; no await follows this check before ``open``."""
        if len(self.sockets) >= self.max_clients:
            raise HTTPError(
                503,
                "%d WebSocket clients are connected, the most this server takes (--ws-max-clients)",
                self.max_clients,
            )

    def _secret(self) -> str | None:
        """The token: ``Authorization: Bearer``, else ``?token=``, else the dashboard's cookie."""
        return (
            bearer(self.request.headers.get("Authorization"))
            or self.get_query_argument(TOKEN_QUERY, None)
            or self.get_cookie(TOKEN_COOKIE)
        )

    async def get(self, *args: Any, **kwargs: Any) -> None:
        """Refuse a plain GET with problem+json rather than Tornado's text page."""
        if self.request.headers.get("Upgrade", "").lower() != "websocket":
            raise HTTPError(400, "this is a WebSocket endpoint: send Upgrade: websocket")
        await super().get(*args, **kwargs)

    def open(self, *args: str, **kwargs: str) -> None:
        outbox = Outbox(self.queue_limit)
        self.sockets.add(self)
        self._tasks = [
            asyncio.create_task(self._pump(outbox), name="argyll-ws-pump"),
            asyncio.create_task(self._send(outbox), name="argyll-ws-send"),
        ]

    def on_message(self, message: str | bytes) -> None:
        """Clients only listen; whatever they send is ignored."""

    def on_close(self) -> None:
        self.sockets.discard(self)
        self._stop_tasks()

    def shut(self, code: int, reason: str) -> None:
        """Start the closing handshake and stop this client's tasks now, not at the reply."""
        self.close(code, reason)
        self._stop_tasks()

    def _stop_tasks(self) -> None:
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        write_problem(self, status_code, kwargs.get("exc_info"))

    def log_exception(self, *exc_info: Any) -> None:
        """Silent: refused handshakes are answered; unexpected errors are logged by the mapping."""

    def _wanted(self, event: Event) -> bool:
        if self._aggregate is None:
            return True
        return event.aggregate == self._aggregate and event.seq > self._last_past_seq

    async def _pump(self, outbox: Outbox) -> None:
        try:
            async for event in self.engine.events(self._head):
                if self._wanted(event) and not outbox.offer(json.dumps(event.to_dict())):
                    reason = f"more than {self.queue_limit} events behind; reconnect to catch up"
                    self.shut(CLOSE_TRY_AGAIN_LATER, reason)
                    return
        except ArgyllError:
            log.exception("the event feed failed under a websocket client")
            self.shut(CLOSE_INTERNAL_ERROR, "the event feed failed")
            return
        self.shut(CLOSE_GOING_AWAY, "the server is shutting down")

    async def _send(self, outbox: Outbox) -> None:
        try:
            for event in self._past:
                await self.write_message(json.dumps(event))
            self._past = []
            while True:
                await self.write_message(await outbox.take())
        except WebSocketClosedError:
            return


async def _past_events(engine: Engine, flow_id: str) -> list[dict[str, Any]]:
    try:
        return await engine.flow_events(flow_id)
    except NotFoundError:
        return []
