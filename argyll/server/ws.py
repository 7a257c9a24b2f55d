"""``GET /engine/ws[?flow_id=][&types=][&after=]``: the event feed over a WebSocket, one JSON
event per message, each with its feed ``position``.

Filters are evaluated where the events are, never by the client:

- ``types`` (comma-separated or repeated): only events of those types are sent;
  without ``flow_id`` the store is asked for only those, so it decodes no others.
- ``flow_id`` (comma-separated or repeated): those flows' past events, then their
  live ones. The past is each flow's own stream (a per-flow read), merged in feed
  order; the live events come from ``FeedFanout``, the process's one reader of the
  live feed, which hands this client only its flows' events. The client is
  registered there *before* the past is read, and live events the past already
  held (by ``seq``) are dropped, so there is no gap and no repeat at the seam. A
  ``flow_id`` that names no flow yet is not an error: the client waits for it.
- Without ``flow_id``: every event appended after the client connected.
- ``after``: a position this feed gave; only events after it are sent (the past of
  the flows included), so a client that reconnects with its last event's position
  goes on with no gap and no repeat. A position the store did not make is a 400.

Each connection runs tasks of its own, cancelled on close: without ``flow_id`` a
pump that reads the feed as fast as it comes, and a sender that writes to the
client. Between the feed and the sender is a bounded ``Outbox``; a client that
falls ``queue_limit`` events behind is sent what was queued, then closed with
1013 (try again later), and should reconnect with ``after`` to catch up. A slow
client therefore never slows the engine or the other clients. At most
``max_clients`` are connected at once; one more is refused before the handshake
with a 503 problem.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from tornado.web import HTTPError
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from argyll.access import bearer
from argyll.errors import ArgyllError, ValidationError
from argyll.events import EVENT_TYPES, Event, flow_aggregate
from argyll.json_encoding import to_json
from argyll.model import ID_PATTERN, json_text
from argyll.runtime.engine import Engine
from argyll.runtime.fanout import FeedFanout
from argyll.runtime.feeds import check_position
from argyll.server.handlers import caller_of, check_started
from argyll.server.problem import write_problem
from argyll.store.feed import position_key
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
        self._queue: asyncio.Queue[Event] = asyncio.Queue(limit)

    def offer(self, event: Event) -> bool:
        """Queue ``event``; False when the client is already ``limit`` events behind."""
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            return False
        return True

    async def take(self) -> Event:
        return await self._queue.get()

    def __len__(self) -> int:
        return self._queue.qsize()


class EventSocket(WebSocketHandler):
    def initialize(
        self,
        engine: Engine,
        sockets: set[EventSocket],
        fanout: FeedFanout,
        queue_limit: int = DEFAULT_QUEUE_LIMIT,
        max_clients: int = DEFAULT_MAX_CLIENTS,
    ) -> None:
        self.engine = engine
        self.sockets = sockets
        self.fanout = fanout
        self.queue_limit, self.max_clients = queue_limit, max_clients
        self._after: str | None = None
        self._aggregates: list[str] = []
        self._types: frozenset[str] = frozenset()
        self._outbox = Outbox(queue_limit)
        self._behind = False
        self._tasks: list[asyncio.Task[None]] = []

    async def prepare(self) -> None:
        """Check the token and the filters, and fix the feed position, all before the
        handshake answers: a refused client gets a 4xx problem, never a socket."""
        caller_of(self, self._secret())
        check_started(self.engine)
        flow_ids = self._listed("flow_id")
        wrong = [ident for ident in flow_ids if not ID_PATTERN.fullmatch(ident)]
        if wrong:
            reason = f"must match [A-Za-z0-9_.-]+, got {', '.join(map(json_text, wrong))}"
            raise ValidationError([("flow_id", reason)])
        types = self._listed("types")
        unknown = [name for name in types if name not in EVENT_TYPES]
        if unknown:
            reason = f"unknown event types {', '.join(map(json_text, unknown))}"
            raise ValidationError([("types", reason)])
        self._aggregates = [flow_aggregate(ident) for ident in dict.fromkeys(flow_ids)]
        self._types = frozenset(types)
        self._after = self.get_query_argument("after", None, strip=False)
        if self._after is not None:
            await check_position(self.engine.store, self._after)
        elif not self._aggregates:
            self._after = await self.engine.store.head()
        self._check_room()

    def _listed(self, name: str) -> list[str]:
        """A query parameter given comma-separated, repeated, or both."""
        return [part for given in self.get_query_arguments(name) for part in given.split(",")]

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
        """Start following: from here on no event of the feed is missed."""
        self.sockets.add(self)
        if self._aggregates:
            self.fanout.follow(self._aggregates, self)
            self._tasks = [
                asyncio.create_task(self._send_flows(), name="argyll-ws-send"),
            ]
        else:
            events = self.engine.events(self._after, self._wants if self._types else None)
            self._tasks = [
                asyncio.create_task(self._pump(events), name="argyll-ws-pump"),
                asyncio.create_task(self._send_feed(), name="argyll-ws-send"),
            ]

    def _wants(self, aggregate: str, event_type: str) -> bool:
        """The feed's filter for a ``types=`` client: the store decodes nothing else."""
        return event_type in self._types

    def on_message(self, message: str | bytes) -> None:
        """Clients only listen; whatever they send is ignored."""

    def on_close(self) -> None:
        self.sockets.discard(self)
        if self._aggregates:
            self.fanout.unfollow(self._aggregates, self)
        self._stop_tasks()

    def shut(self, code: int, reason: str) -> None:
        """Start the closing handshake and stop this client's tasks now, not at the reply."""
        if self._aggregates:
            self.fanout.unfollow(self._aggregates, self)
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

    # ------------------------------------------------------ what reaches the outbox

    def on_event(self, event: Event) -> None:
        """A live event of a followed flow (from the fan-out), or of the feed (the pump).

        When the outbox is full the client has fallen behind: nothing more is queued,
        and the sender closes the socket once it has sent what was (so a client that
        reconnects ``after`` its last event always gets further).
        """
        if self._behind or (self._types and event.type not in self._types):
            return
        if not self._outbox.offer(event):
            self._behind = True
            if self._aggregates:
                self.fanout.unfollow(self._aggregates, self)

    def on_end(self, failed: bool) -> None:
        if failed:
            self.shut(CLOSE_INTERNAL_ERROR, "the event feed failed")
        else:
            self.shut(CLOSE_GOING_AWAY, "the server is shutting down")

    async def _pump(self, events: AsyncIterator[Event]) -> None:
        try:
            async for event in events:
                self.on_event(event)
                if self._behind:
                    return
        except ArgyllError:
            log.exception("the event feed failed under a websocket client")
            self.on_end(failed=True)
            return
        self.on_end(failed=False)

    # ------------------------------------------------------------------ senders

    async def _send_feed(self) -> None:
        try:
            await self._send_live({})
        except WebSocketClosedError:
            return

    async def _send_flows(self) -> None:
        """The flows' past (read after following began), then their live events past it."""
        try:
            past, last_seqs = await self._flows_past()
            for event in past:
                await self._write(event)
            del past
            await self._send_live(last_seqs)
        except WebSocketClosedError:
            return
        except ArgyllError:
            log.exception("reading a flow's events failed under a websocket client")
            self.shut(CLOSE_INTERNAL_ERROR, "the event feed failed")

    async def _send_live(self, last_seqs: dict[str, int]) -> None:
        """The outbox's events beyond ``last_seqs`` (what the past held), until the client
        has fallen behind and been sent what was queued."""
        while True:
            if self._behind and not self._outbox:
                reason = f"more than {self.queue_limit} events behind; reconnect to catch up"
                self.shut(CLOSE_TRY_AGAIN_LATER, reason)
                return
            event = await self._outbox.take()
            if event.seq > last_seqs.get(event.aggregate, 0):
                await self._write(event)

    async def _flows_past(self) -> tuple[list[Event], dict[str, int]]:
        """Each flow's stored events after ``after`` of the wanted types, in feed order, and
        the last seq each stream held."""
        streams = [await self.engine.store.read(aggregate) for aggregate in self._aggregates]
        last_seqs = {stream[-1].aggregate: stream[-1].seq for stream in streams if stream}
        start = position_key(self._after or "")
        past = [
            event
            for stream in streams
            for event in stream
            if (not self._types or event.type in self._types)
            and position_key(event.position) > start
        ]
        if len(streams) > 1:
            past.sort(key=lambda event: position_key(event.position))
        return past, last_seqs

    async def _write(self, event: Event) -> None:
        await self.write_message(to_json(event.to_dict()))
