"""``Client`` and ``AsyncClient``: the in-process ``Engine`` API, over the REST API of a server.

Both only send: each method takes its ``Call`` from ``protocol`` and hands the
reply back to it, so requests, replies and errors are defined once. Transport
failures (server unreachable, timeouts) are httpx's own exceptions; everything
the server refuses is the typed ``ArgyllError`` the engine would have raised.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Self, TypeVar, Unpack

import httpx
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.websocket import WebSocketClientConnection, websocket_connect

from argyll.client import protocol
from argyll.client.protocol import Call, EngineInfo, FlowFilters, ServiceHealth
from argyll.decide import Outcome
from argyll.errors import ArgyllError
from argyll.events import Event, flow_aggregate
from argyll.flow_query import FlowPage
from argyll.model import (
    FlowID,
    FlowStart,
    FlowState,
    FlowStatus,
    FlowSummary,
    Health,
    Plan,
    Step,
    StepID,
    StepRegistration,
)
from argyll.wire import CLOSE_INTERNAL_ERROR, CLOSE_TRY_AGAIN_LATER

T = TypeVar("T")

DEFAULT_URL = "http://127.0.0.1:8080"
DEFAULT_TIMEOUT = 10.0
DEFAULT_WAIT = 60.0
"""Seconds ``wait_flow`` waits by default before TimeoutError."""

StepDefinition = Mapping[str, Any] | Step
Goals = Iterable[str] | str


class Client:
    """A blocking client of an Argyll server.

    Args:
        base_url: where ``argyll serve`` listens.
        timeout: seconds for each request.
        token: sent as ``Authorization: Bearer`` (a server with a tokens file needs one).
    """

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        token: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._http = httpx.Client(
            base_url=self.base_url, timeout=timeout, headers=auth_headers(token)
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _send(self, call: Call[T]) -> T:
        response = self._http.request(
            call.method,
            call.path,
            params=call.params,
            content=call.content,
            headers=call.headers,
            timeout=read_timeout(self._timeout, call),
        )
        return call.result(response.status_code, response.content)

    def health(self) -> ServiceHealth:
        return self._send(protocol.health())

    def engine_info(self) -> EngineInfo:
        return self._send(protocol.engine_info())

    def list_steps(self) -> list[Step]:
        return self._send(protocol.list_steps())

    def register_step(self, definition: StepDefinition) -> Step:
        """Register a step; the same definition again is a no-op, a different one a conflict."""
        return self.submit_step(definition).step

    def submit_step(self, definition: StepDefinition) -> StepRegistration:
        return self._send(protocol.submit_step(definition))

    def get_step(self, step_id: str) -> Step:
        return self._send(protocol.get_step(step_id))

    def update_step(self, step_id: str, definition: StepDefinition) -> Step:
        return self._send(protocol.update_step(step_id, definition))

    def unregister_step(self, step_id: str) -> None:
        self._send(protocol.unregister_step(step_id))

    def steps_health(self) -> dict[StepID, Health]:
        return self._send(protocol.steps_health())

    def step_health(self, step_id: str) -> Health:
        return self._send(protocol.step_health(step_id))

    def plan(self, goals: Goals, init: Mapping[str, Any] | None = None) -> Plan:
        """The plan a flow with these goals and init would run (nothing is started)."""
        return self._send(protocol.plan(goals, init))

    def start_flow(
        self,
        goals: Goals,
        init: Mapping[str, Any] | None = None,
        flow_id: str | None = None,
        *,
        timeout: int | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> FlowID:
        """Start a flow and return its id; repeating the same request with its id is a no-op.

        ``timeout`` (ms): a flow that has not ended by then fails, saying it timed out.
        """
        return self.submit_flow(goals, init, flow_id, timeout=timeout, labels=labels).flow_id

    def submit_flow(
        self,
        goals: Goals,
        init: Mapping[str, Any] | None = None,
        flow_id: str | None = None,
        *,
        timeout: int | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> FlowStart:
        return self._send(protocol.submit_flow(goals, init, flow_id, timeout, labels))

    def pause_flow(self, flow_id: str, reason: str | None = None) -> FlowStatus:
        """Start nothing new in an active flow until it is resumed; returns its status."""
        return self._send(protocol.pause_flow(flow_id, reason))

    def resume_flow(self, flow_id: str, reason: str | None = None) -> FlowStatus:
        """Carry a paused flow on from where it stood."""
        return self._send(protocol.resume_flow(flow_id, reason))

    def cancel_flow(self, flow_id: str, reason: str | None = None) -> FlowStatus:
        """End a flow: nothing more starts, running scripts stop."""
        return self._send(protocol.cancel_flow(flow_id, reason))

    def retry_flow(
        self,
        flow_id: str,
        steps: Iterable[str] = (),
        *,
        complete: Mapping[str, Mapping[str, Any]] | None = None,
        skip: Iterable[str] = (),
        reason: str | None = None,
    ) -> FlowStatus:
        """Run a failed or canceled flow again from where it stopped (completed steps stay)."""
        return self._send(protocol.retry_flow(flow_id, steps, complete, skip, reason))

    def complete_step(
        self, flow_id: str, step_id: str, outputs: Mapping[str, Any], reason: str | None = None
    ) -> FlowStatus:
        """Resolve a step by hand with its outputs."""
        return self._send(protocol.complete_step(flow_id, step_id, outputs, reason))

    def skip_step(self, flow_id: str, step_id: str, reason: str | None = None) -> FlowStatus:
        """Skip a step by hand."""
        return self._send(protocol.skip_step(flow_id, step_id, reason))

    def explain_flow(self, flow_id: str) -> dict[str, Any]:
        """Why each step of the flow's plan is where it is (the API's JSON)."""
        return self._send(protocol.explain_flow(flow_id))

    def get_flow(self, flow_id: str, wait: float | None = None) -> FlowState:
        """The flow's state; with ``wait``, once it has ended or after ``wait`` s (at most 60)."""
        return self._send(protocol.get_flow(flow_id, wait))

    def flow_status(self, flow_id: str, wait: float | None = None) -> FlowStatus:
        """The flow's status; with ``wait``, once it has ended or after ``wait`` s (at most 60)."""
        return self._send(protocol.flow_status(flow_id, wait))

    def wait_flow(self, flow_id: str, timeout: float = DEFAULT_WAIT) -> FlowState:
        """The flow's state once it has ended; TimeoutError after ``timeout`` s.

        The server holds each read until the flow ends (long polls, ``?wait=``): no polling.
        """
        waiting = protocol.FlowWait(flow_id, timeout)
        while (state := waiting.ended(self._send(waiting.call()))) is None:
            pass
        return state

    def list_flows(
        self,
        status: FlowStatus | str | None = None,
        limit: int | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> list[FlowSummary]:
        """Flows newest first (a page: 50 unless ``limit`` says otherwise, at most 1000);
        with ``labels``, those that carry every one of them."""
        return self._send(protocol.list_flows(status, limit, labels))

    def query_flows(self, **filters: Unpack[FlowFilters]) -> FlowPage:
        """One page of the flows that match every filter given: ``statuses``, ``labels``,
        ``goals``, ``id_prefix``, ``created_after``, ``created_before`` (datetimes or
        ISO-8601), ``sort`` ("-created_at" or "created_at"), ``limit`` and the ``cursor``
        of the page before (its ``next_cursor``)."""
        return self._send(protocol.query_flows(**filters))

    def flow_events(self, flow_id: str) -> list[dict[str, Any]]:
        """The flow's events as JSON dicts, as ``Engine.flow_events`` gives them."""
        return self._send(protocol.flow_events(flow_id))

    def events(self, flow_id: str) -> list[Event]:
        """The flow's events, typed."""
        return self._send(protocol.events(flow_id))

    def complete_work(self, flow_id: str, step_id: str, token: str, outcome: Outcome) -> None:
        """Report an async work item's result (``Succeeded`` or ``Failed``) to its webhook."""
        self._send(protocol.complete_work(flow_id, step_id, token, outcome))


class AsyncClient:
    """A client of an Argyll server for asyncio code; ``stream`` follows events live.

    Args:
        base_url: where ``argyll serve`` listens.
        timeout: seconds for each request (and to open a WebSocket).
        token: sent as ``Authorization: Bearer`` on every request and WebSocket.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        token: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._headers = auth_headers(token)
        self._http = httpx.AsyncClient(
            base_url=self.base_url, timeout=timeout, headers=self._headers
        )
        self._streams: set[EventStream] = set()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every stream this client opened, then its connections."""
        for stream in list(self._streams):
            stream.close()
        await self._http.aclose()

    async def _send(self, call: Call[T]) -> T:
        response = await self._http.request(
            call.method,
            call.path,
            params=call.params,
            content=call.content,
            headers=call.headers,
            timeout=read_timeout(self.timeout, call),
        )
        return call.result(response.status_code, response.content)

    async def health(self) -> ServiceHealth:
        return await self._send(protocol.health())

    async def engine_info(self) -> EngineInfo:
        return await self._send(protocol.engine_info())

    async def list_steps(self) -> list[Step]:
        return await self._send(protocol.list_steps())

    async def register_step(self, definition: StepDefinition) -> Step:
        """Register a step; the same definition again is a no-op, a different one a conflict."""
        return (await self.submit_step(definition)).step

    async def submit_step(self, definition: StepDefinition) -> StepRegistration:
        return await self._send(protocol.submit_step(definition))

    async def get_step(self, step_id: str) -> Step:
        return await self._send(protocol.get_step(step_id))

    async def update_step(self, step_id: str, definition: StepDefinition) -> Step:
        return await self._send(protocol.update_step(step_id, definition))

    async def unregister_step(self, step_id: str) -> None:
        await self._send(protocol.unregister_step(step_id))

    async def steps_health(self) -> dict[StepID, Health]:
        return await self._send(protocol.steps_health())

    async def step_health(self, step_id: str) -> Health:
        return await self._send(protocol.step_health(step_id))

    async def plan(self, goals: Goals, init: Mapping[str, Any] | None = None) -> Plan:
        """The plan a flow with these goals and init would run (nothing is started)."""
        return await self._send(protocol.plan(goals, init))

    async def start_flow(
        self,
        goals: Goals,
        init: Mapping[str, Any] | None = None,
        flow_id: str | None = None,
        *,
        timeout: int | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> FlowID:
        """Start a flow and return its id; repeating the same request with its id is a no-op.

        ``timeout`` (ms): a flow that has not ended by then fails, saying it timed out.
        """
        start = await self.submit_flow(goals, init, flow_id, timeout=timeout, labels=labels)
        return start.flow_id

    async def submit_flow(
        self,
        goals: Goals,
        init: Mapping[str, Any] | None = None,
        flow_id: str | None = None,
        *,
        timeout: int | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> FlowStart:
        return await self._send(protocol.submit_flow(goals, init, flow_id, timeout, labels))

    async def pause_flow(self, flow_id: str, reason: str | None = None) -> FlowStatus:
        """Start nothing new in an active flow until it is resumed; returns its status."""
        return await self._send(protocol.pause_flow(flow_id, reason))

    async def resume_flow(self, flow_id: str, reason: str | None = None) -> FlowStatus:
        """Carry a paused flow on from where it stood."""
        return await self._send(protocol.resume_flow(flow_id, reason))

    async def cancel_flow(self, flow_id: str, reason: str | None = None) -> FlowStatus:
        """End a flow: nothing more starts, running scripts stop."""
        return await self._send(protocol.cancel_flow(flow_id, reason))

    async def retry_flow(
        self,
        flow_id: str,
        steps: Iterable[str] = (),
        *,
        complete: Mapping[str, Mapping[str, Any]] | None = None,
        skip: Iterable[str] = (),
        reason: str | None = None,
    ) -> FlowStatus:
        """Run a failed or canceled flow again from where it stopped (completed steps stay)."""
        return await self._send(protocol.retry_flow(flow_id, steps, complete, skip, reason))

    async def complete_step(
        self, flow_id: str, step_id: str, outputs: Mapping[str, Any], reason: str | None = None
    ) -> FlowStatus:
        """Resolve a step by hand with its outputs."""
        return await self._send(protocol.complete_step(flow_id, step_id, outputs, reason))

    async def skip_step(self, flow_id: str, step_id: str, reason: str | None = None) -> FlowStatus:
        """Skip a step by hand."""
        return await self._send(protocol.skip_step(flow_id, step_id, reason))

    async def explain_flow(self, flow_id: str) -> dict[str, Any]:
        """Why each step of the flow's plan is where it is (the API's JSON)."""
        return await self._send(protocol.explain_flow(flow_id))

    async def get_flow(self, flow_id: str, wait: float | None = None) -> FlowState:
        """The flow's state; with ``wait``, once it has ended or after ``wait`` s (at most 60)."""
        return await self._send(protocol.get_flow(flow_id, wait))

    async def flow_status(self, flow_id: str, wait: float | None = None) -> FlowStatus:
        """The flow's status; with ``wait``, once it has ended or after ``wait`` s (at most 60)."""
        return await self._send(protocol.flow_status(flow_id, wait))

    async def wait_flow(self, flow_id: str, timeout: float = DEFAULT_WAIT) -> FlowState:
        """The flow's state once it has ended; TimeoutError after ``timeout`` s.

        The server holds each read until the flow ends (long polls, ``?wait=``): no polling.
        """
        waiting = protocol.FlowWait(flow_id, timeout)
        while (state := waiting.ended(await self._send(waiting.call()))) is None:
            pass
        return state

    async def list_flows(
        self,
        status: FlowStatus | str | None = None,
        limit: int | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> list[FlowSummary]:
        """Flows newest first (a page: 50 unless ``limit`` says otherwise, at most 1000);
        with ``labels``, those that carry every one of them."""
        return await self._send(protocol.list_flows(status, limit, labels))

    async def query_flows(self, **filters: Unpack[FlowFilters]) -> FlowPage:
        """One page of the flows that match every filter given, as ``Client.query_flows``."""
        return await self._send(protocol.query_flows(**filters))

    async def flow_events(self, flow_id: str) -> list[dict[str, Any]]:
        """The flow's events as JSON dicts, as ``Engine.flow_events`` and ``stream`` give them."""
        return await self._send(protocol.flow_events(flow_id))

    async def events(self, flow_id: str) -> list[Event]:
        """The flow's events, typed."""
        return await self._send(protocol.events(flow_id))

    async def complete_work(self, flow_id: str, step_id: str, token: str, outcome: Outcome) -> None:
        """Report an async work item's result (``Succeeded`` or ``Failed``) to its webhook."""
        await self._send(protocol.complete_work(flow_id, step_id, token, outcome))

    def stream(
        self,
        flow_id: str | Iterable[str] | None = None,
        *,
        types: Iterable[str] = (),
        after: str | None = None,
        until_ended: bool = True,
    ) -> EventStream:
        """Events over the WebSocket: ``async for event in client.stream(flow_id=...)``.

        Each event is a JSON dict (``event["type"]``, ``event["data"]``, its feed
        ``event["position"]``), the same shape ``flow_events`` and
        ``Engine.flow_events`` give, so a flow's stream read to its end equals its
        ``flow_events``. With ``flow_id`` (one id or several), the flows' past events
        come first, then live ones (a flow not started yet is waited for), and the
        stream ends once each has ended (``flow_completed``, ``flow_failed``,
        ``flow_canceled``): following flows means following them to their end.
        ``until_ended=False`` keeps it open after that. Without ``flow_id``, every
        event from now on, until closed. ``types``: only events of these types (the
        server filters). ``after``: only events after this position (an event's
        ``position``), to go on from where an earlier stream stopped. Use
        ``async with client.stream(...) as events`` to connect at once and close on exit.
        """
        stream = EventStream(
            self.base_url,
            protocol.flow_ids(flow_id),
            self.timeout,
            self._streams,
            types=tuple(types),
            after=after,
            until_ended=until_ended,
            headers=self._headers,
        )
        self._streams.add(stream)
        return stream


class EventStream:
    """The events of ``/engine/ws``, one JSON dict per message, as the server sent it.

    A stream the server closes for falling behind reconnects with ``after`` set to
    the position of the last event it gave, so no event is lost or repeated; one
    that had given none yet and started from "now" cannot catch up and raises
    ``ArgyllError`` instead. It ends when the server closes it otherwise (shutting
    down), when ``close`` is called, or (with ``until_ended`` and flows to follow)
    right after the last of them has ended.
    """

    def __init__(
        self,
        base_url: str,
        flow_ids: list[str],
        connect_timeout: float,
        owners: set[EventStream],
        *,
        types: tuple[str, ...] = (),
        after: str | None = None,
        until_ended: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.base_url, self.flow_ids, self.types = base_url, flow_ids, types
        self._headers = dict(headers or {})
        self._running = {flow_aggregate(ident) for ident in flow_ids} if until_ended else set()
        self._connect_timeout = connect_timeout
        self._owners = owners
        self._connection: WebSocketClientConnection | None = None
        self._after = after
        self._last_seqs: dict[str, int] = {}
        self._closed = False

    @property
    def url(self) -> str:
        """Where the stream (re)connects: after the last event it gave, once it gave one."""
        return protocol.stream_url(self.base_url, self.flow_ids, self.types, self._after)

    async def __aenter__(self) -> Self:
        return await self.connect()

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    async def connect(self) -> Self:
        """Connect now rather than at the first event: every event from here on is delivered."""
        await self._connected()
        return self

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> dict[str, Any]:
        while True:
            connection = await self._connected()
            message = await connection.read_message()
            if message is None:
                self._after_close(connection)
                continue
            event: dict[str, Any] = json.loads(message)
            aggregate = event["aggregate"]
            if event["seq"] <= self._last_seqs.get(aggregate, 0):
                continue
            self._last_seqs[aggregate] = event["seq"]
            self._after = event.get("position", self._after)
            if event["type"] in protocol.FLOW_ENDED and aggregate in self._running:
                self._running.discard(aggregate)
                if not self._running:
                    self.close()
            return event

    def close(self) -> None:
        self._closed = True
        self._owners.discard(self)
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def _connected(self) -> WebSocketClientConnection:
        if self._closed:
            raise StopAsyncIteration
        if self._connection is None:
            self._connection = await _open_socket(self.url, self._connect_timeout, self._headers)
        return self._connection

    def _after_close(self, connection: WebSocketClientConnection) -> None:
        """Reconnect (by returning) when the stream fell behind and knows where it stood;
        otherwise end or raise."""
        self._connection = None
        code, reason = connection.close_code, connection.close_reason
        if code == CLOSE_TRY_AGAIN_LATER and (self.flow_ids or self._after is not None):
            return
        self.close()
        if code in (CLOSE_TRY_AGAIN_LATER, CLOSE_INTERNAL_ERROR):
            raise ArgyllError(f"the event stream was closed ({code}): {reason}")
        raise StopAsyncIteration


def read_timeout(timeout: float, call: Call[Any]) -> float:
    """The seconds a request may take: the client's timeout, plus what the server may hold."""
    return timeout + call.hold


def auth_headers(token: str | None) -> dict[str, str]:
    """The ``Authorization`` header of ``token`` (none without one)."""
    return {"Authorization": f"Bearer {token}"} if token else {}


async def _open_socket(
    url: str, timeout: float, headers: Mapping[str, str]
) -> WebSocketClientConnection:
    """Connect; a refused handshake raises the typed error of its problem+json."""
    try:
        return await websocket_connect(
            HTTPRequest(url, headers=dict(headers), connect_timeout=timeout)
        )
    except HTTPClientError as error:
        body = error.response.body if error.response is not None else b""
        raise protocol.problem_error(error.code, body, url) from None
