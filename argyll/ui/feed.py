"""The task that feeds a ``DashboardModel`` from an engine's event stream, in process or remote.

It subscribes *before* it takes the snapshot (catalog and flow list), so no
event falls between the two; events the snapshot already holds are folded
again harmlessly. Every event is applied at once, but the model is flushed
(and so the page redrawn) at most once per ``interval`` seconds. ``schedule``
decides where a flush runs: a Panel server passes its document's
``add_next_tick_callback`` so the flush holds the document lock.
``RemoteEngine`` offers the same methods over a running engine's REST API and
WebSocket, so the dashboard can watch an ``argyll serve`` elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote

import httpx
from tornado.websocket import WebSocketClientConnection, websocket_connect

from argyll.apply import CATALOG_APPLIERS, fold
from argyll.errors import ArgyllError, ConflictError, NotFoundError, ValidationError
from argyll.events import (
    CATALOG,
    Event,
    EventData,
    StepHealthChanged,
    StepRegistered,
    parse_time,
)
from argyll.model import (
    Catalog,
    FlowID,
    FlowStatus,
    FlowSummary,
    Step,
    StepID,
    parse_step,
)
from argyll.ui.model import MAX_FLOWS, DashboardModel

FLUSH_INTERVAL = 0.1
YIELD_EVERY = 200

Schedule = Callable[[Callable[[], None]], None]


class EngineSource(Protocol):
    """What the dashboard uses of an engine; ``argyll.runtime.engine.Engine`` has all of it."""

    @property
    def catalog(self) -> Catalog: ...

    def events(self, after: str | None = None) -> AsyncIterator[Event]: ...

    async def list_flows(
        self, status: Any = None, limit: int | None = None
    ) -> list[FlowSummary]: ...

    async def flow_events(self, flow_id: str) -> list[dict[str, Any]]: ...

    async def start_flow(
        self, goals: Iterable[str], init: Mapping[str, Any] | None = None
    ) -> FlowID: ...

    async def register_step(self, definition: Mapping[str, Any]) -> Step: ...

    async def update_step(self, step_id: str, definition: Mapping[str, Any]) -> Step: ...


def run_now(callback: Callable[[], None]) -> None:
    callback()


class Cancellable(Protocol):
    """An alarm that may still be called off: ``asyncio.TimerHandle`` is one."""

    def cancel(self) -> None: ...


class Timer(Protocol):
    """The clock a ``Throttle`` reads and sets alarms on: an asyncio loop is one."""

    def time(self) -> float: ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> Cancellable: ...


class Throttle:
    """Runs ``action`` soon after a ``poke``, but never more than once per ``interval``.

    Time is ``timer``'s: by default the running event loop's, in a test a fake one.
    """

    def __init__(
        self,
        action: Callable[[], None],
        interval: float,
        schedule: Schedule = run_now,
        timer: Timer | None = None,
    ) -> None:
        self.action = action
        self.interval = interval
        self.schedule = schedule
        self.timer = timer
        self._last = float("-inf")
        self._handle: Cancellable | None = None

    def poke(self) -> None:
        if self._handle is not None:
            return
        timer = self._timer()
        delay = max(0.0, self._last + self.interval - timer.time())
        self._handle = timer.call_later(delay, self._fire)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _fire(self) -> None:
        self._handle = None
        self._last = self._timer().time()
        self.schedule(self.action)

    def _timer(self) -> Timer:
        return self.timer or asyncio.get_running_loop()


class Feed:
    """Keeps one model up to date with one engine until ``aclose``.

    Args:
        source: the engine (anything with the ``EngineSource`` methods).
        model: the model to fill.
        flush: what publishes the model (default ``model.flush``; views wrap it to batch
            the page's messages).
        schedule: where a flush runs (default: right away, on the loop).
        interval: the shortest time between two flushes, in seconds.
    """

    def __init__(
        self,
        source: EngineSource,
        model: DashboardModel,
        *,
        flush: Callable[[], None] | None = None,
        schedule: Schedule = run_now,
        interval: float = FLUSH_INTERVAL,
    ) -> None:
        self.source = source
        self.model = model
        self.throttle = Throttle(flush or model.flush, interval, schedule)
        self._task: asyncio.Task[None] | None = None
        self._loads: dict[str, asyncio.Task[None]] = {}
        model.param.watch(lambda _: self._reload(), "selected_flow")

    def start(self) -> asyncio.Task[None]:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self.run(), name="argyll-ui-feed")
        return self._task

    async def aclose(self) -> None:
        self.throttle.cancel()
        tasks = [*self._loads.values(), *([self._task] if self._task else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def run(self) -> None:
        stream = self.source.events(None)
        try:
            flows = await self.source.list_flows(limit=MAX_FLOWS)
            self.model.load(self.source.catalog, flows)
            self._reload()
            self.throttle.poke()
            await self._follow(stream)
        finally:
            with contextlib.suppress(AttributeError):
                await stream.aclose()  # type: ignore[attr-defined]

    async def _follow(self, stream: AsyncIterator[Event]) -> None:
        count = 0
        async for event in stream:
            self.model.apply(event)
            if self.model.stale_flow:
                self._reload()
            self.throttle.poke()
            count += 1
            if count % YIELD_EVERY == 0:
                await asyncio.sleep(0)

    def _reload(self) -> None:
        """Read the selected flow's past events, unless a read of it is already under way."""
        flow_id = self.model.selected_flow
        if not flow_id or flow_id in self._loads:
            return
        self.model.stale_flow = False
        task = asyncio.get_running_loop().create_task(self._load(flow_id))
        self._loads[flow_id] = task

    async def _load(self, flow_id: str) -> None:
        try:
            raw = await self.source.flow_events(flow_id)
        except NotFoundError:
            raw = []
        finally:
            self._loads.pop(flow_id, None)
        self.model.load_flow(flow_id, [Event.from_dict(item) for item in raw])
        if self.model.stale_flow:
            self._reload()
        self.throttle.poke()


# -------------------------------------------------------------------- remote


class RemoteEngine:
    """An engine served elsewhere (``argyll serve``), used over its REST API and WebSocket.

    ``start`` opens one WebSocket and reads the catalog; every ``events()`` call
    gets its own queue fed from that socket, so several pages can share one
    ``RemoteEngine``. Errors come back as the engine's own error classes, with
    a 400's ``problems`` as ``ValidationError.problems``.
    """

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.catalog = Catalog()
        self._client = httpx.AsyncClient(base_url=self.url, timeout=timeout)
        self._socket: WebSocketClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._queues: set[asyncio.Queue[Event]] = set()

    async def start(self) -> None:
        ws_url = "ws" + self.url.removeprefix("http") + "/engine/ws"
        self._socket = await websocket_connect(ws_url)
        self._reader = asyncio.get_running_loop().create_task(self._read())
        self.catalog = catalog_from(await self._get("/engine"))

    async def aclose(self) -> None:
        if self._socket is not None:
            self._socket.close()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        await self._client.aclose()

    def events(self, after: str | None = None) -> AsyncIterator[Event]:
        """Live events from now on (``after`` is not supported over the WebSocket)."""
        queue: asyncio.Queue[Event] = asyncio.Queue()
        self._queues.add(queue)
        return self._drain(queue)

    async def list_flows(self, status: Any = None, limit: int | None = None) -> list[FlowSummary]:
        query = {k: v for k, v in {"status": status, "limit": limit}.items() if v is not None}
        body = await self._get("/engine/flow", params=query)
        return [summary_from(item) for item in body["flows"]]

    async def flow_events(self, flow_id: str) -> list[dict[str, Any]]:
        return (await self._get(f"/engine/flow/{quote(flow_id, safe='')}/events"))["events"]

    async def start_flow(
        self, goals: Iterable[str], init: Mapping[str, Any] | None = None
    ) -> FlowID:
        body = {"goals": list(goals), "init": dict(init or {})}
        return FlowID((await self._send("POST", "/engine/flow", body))["flow_id"])

    async def register_step(self, definition: Mapping[str, Any]) -> Step:
        return parse_step((await self._send("POST", "/engine/step", definition))["step"])

    async def update_step(self, step_id: str, definition: Mapping[str, Any]) -> Step:
        path = f"/engine/step/{quote(step_id, safe='')}"
        return parse_step((await self._send("PUT", path, definition))["step"])

    async def _read(self) -> None:
        assert self._socket is not None
        while (message := await self._socket.read_message()) is not None:
            event = Event.from_dict(json.loads(message))
            if event.aggregate == CATALOG and event.seq > self.catalog.version:
                self.catalog = fold(self.catalog, [event], CATALOG_APPLIERS)
            for queue in self._queues:
                queue.put_nowait(event)

    async def _drain(self, queue: asyncio.Queue[Event]) -> AsyncIterator[Event]:
        try:
            while True:
                yield await queue.get()
        finally:
            self._queues.discard(queue)

    async def _get(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return _checked(await self._client.get(path, params=params))

    async def _send(self, method: str, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return _checked(await self._client.request(method, path, json=dict(body)))


def _checked(response: httpx.Response) -> dict[str, Any]:
    """The JSON body of a success; the engine's error class for a problem+json reply."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code < 400:
        return body
    detail = body.get("detail") or response.text or response.reason_phrase
    problems = [(p["field"], p["reason"]) for p in body.get("problems", [])]
    match response.status_code:
        case 400:
            raise ValidationError(problems or [("", detail)])
        case 404:
            raise NotFoundError("resource", detail)
        case 409:
            raise ConflictError(detail)
    raise ArgyllError(f"HTTP {response.status_code}: {detail}")


def catalog_from(engine: Mapping[str, Any]) -> Catalog:
    """A catalog folded from ``GET /engine``'s steps and health.

    Its version is 0, not the store's (which the API does not give), so every
    catalog event that arrives later over the WebSocket is folded onto it.
    """
    now = datetime.now(UTC)
    data: list[EventData] = [StepRegistered(parse_step(step)) for step in engine["steps"].values()]
    data += [
        StepHealthChanged(StepID(sid), health["status"], health.get("error"))
        for sid, health in engine["health"].items()
    ]
    events = [Event(CATALOG, seq, now, item) for seq, item in enumerate(data, 1)]
    return replace(fold(Catalog(), events, CATALOG_APPLIERS), version=0)


def summary_from(item: Mapping[str, Any]) -> FlowSummary:
    completed = item.get("completed_at")
    return FlowSummary(
        FlowID(item["id"]),
        FlowStatus(item["status"]),
        parse_time(item["created_at"]),
        parse_time(completed) if completed else None,
        item.get("error"),
    )
