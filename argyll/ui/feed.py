"""The task that feeds a ``DashboardModel`` from an engine's event stream, in process or remote.

It subscribes *before* it takes the snapshot (catalog and flow list), so no
event falls between the two; events the snapshot already holds are folded
again harmlessly. Every event is applied at once, but the model is flushed
(and so the page redrawn) at most once per ``interval`` seconds. ``schedule``
decides where a flush runs: a Panel server passes its document's
``add_next_tick_callback`` so the flush holds the document lock.
``RemoteEngine`` offers the same methods over ``argyll.client.AsyncClient``, so
the dashboard can watch an ``argyll serve`` elsewhere.

A feed whose stream ends or whose snapshot fails says so on the model
(``reconnecting``, then ``lost``), and starts over (subscribe, snapshot) until it
is live again: the page catches up without a reload.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx

from argyll.apply import CATALOG_APPLIERS, fold
from argyll.client import AsyncClient, EngineInfo, EventStream
from argyll.client.client import DEFAULT_TIMEOUT
from argyll.errors import ArgyllError, NotFoundError
from argyll.events import CATALOG, Event, EventData, StepHealthChanged, StepRegistered
from argyll.flow_query import FlowCursor, FlowPage, FlowQuery
from argyll.model import Catalog, FlowID, FlowStatus, Step
from argyll.ui.model import BACKFILL, FLOW_PAGE, DashboardModel

log = logging.getLogger("argyll.ui")

FLUSH_INTERVAL = 0.1
YIELD_EVERY = 200
RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0)
"""Seconds between attempts to reach the engine again; the last one repeats."""
LOST_AFTER = 10.0
"""Seconds of failed attempts after which the page says the connection is lost."""
UNREACHABLE = (ArgyllError, OSError, httpx.HTTPError)
"""What reaching an engine that is not there raises (a remote one, or a failing store)."""

Schedule = Callable[[Callable[[], None]], None]


class EngineSource(Protocol):
    """What the dashboard uses of an engine; ``argyll.runtime.engine.Engine`` has all of it."""

    @property
    def catalog(self) -> Catalog: ...

    def events(self, after: str | None = None) -> AsyncIterator[Event]: ...

    async def query_flows(self, query: FlowQuery) -> FlowPage: ...

    async def flow_counts(self) -> dict[FlowStatus, int]: ...

    async def flow_events(self, flow_id: str) -> list[dict[str, Any]]: ...

    async def start_flow(
        self, goals: Iterable[str], init: Mapping[str, Any] | None = None
    ) -> FlowID: ...

    async def register_step(self, definition: Mapping[str, Any]) -> Step: ...

    async def update_step(self, step_id: str, definition: Mapping[str, Any]) -> Step: ...

    async def pause_flow(self, flow_id: str, reason: str | None = None) -> object: ...

    async def resume_flow(self, flow_id: str, reason: str | None = None) -> object: ...

    async def cancel_flow(self, flow_id: str, reason: str | None = None) -> object: ...

    async def retry_flow(self, flow_id: str, *, reason: str | None = None) -> object: ...

    async def complete_step(
        self, flow_id: str, step_id: str, outputs: Mapping[str, Any], reason: str | None = None
    ) -> object: ...

    async def skip_step(self, flow_id: str, step_id: str, reason: str | None = None) -> object: ...

    async def unregister_step(self, step_id: str) -> None: ...


def run_now(callback: Callable[[], None]) -> None:
    callback()


def retry_delay(attempt: int) -> float:
    return RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)]


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
        self._filling: asyncio.Task[None] | None = None
        self._reads: dict[str, asyncio.Task[None]] = {}
        """The store reads under way besides flows' events: "counts", "older"."""
        model.param.watch(lambda _: self._reload(), "selected_flow")
        model.param.watch(lambda _: self._read("older", self._read_older), "older_wanted")

    def start(self) -> asyncio.Task[None]:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self.run(), name="argyll-ui-feed")
        return self._task

    async def aclose(self) -> None:
        self.throttle.cancel()
        running = [task for task in (self._task, self._filling) if task is not None]
        tasks = [*self._loads.values(), *self._reads.values(), *running]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def run(self) -> None:
        """Follow the engine; each time it is lost, say so and start over until it is back."""
        loop = asyncio.get_running_loop()
        lost_since: float | None = None
        attempt = 0
        while True:
            if await self._session():
                lost_since, attempt = None, 0
            lost_since = loop.time() if lost_since is None else lost_since
            late = loop.time() - lost_since >= LOST_AFTER
            self.model.connected("lost" if late else "reconnecting")
            self.throttle.poke()
            await asyncio.sleep(retry_delay(attempt))
            attempt += 1

    async def _session(self) -> bool:
        """Subscribe, take the snapshot, follow until the stream ends; False if never live."""
        stream = self.source.events(None)
        live = False
        try:
            page = await self.source.query_flows(FlowQuery(limit=FLOW_PAGE))
            counts = await self.source.flow_counts()
            self.model.load(self.source.catalog, page.flows, counts, page.next_cursor)
            self.model.connected("live")
            live = True
            self._reload()
            self._backfill()
            self.throttle.poke()
            await self._follow(stream)
        except UNREACHABLE as error:
            log.warning("the dashboard lost the engine: %s", error)
        finally:
            with contextlib.suppress(AttributeError):
                await stream.aclose()  # type: ignore[attr-defined]
        return live

    async def _follow(self, stream: AsyncIterator[Event]) -> None:
        count = 0
        async for event in stream:
            self.model.apply(event)
            if self.model.stale_flow:
                self._reload()
            if self.model.counts_stale:
                self._read("counts", self._recount)
            self._backfill()
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

    def _read(self, name: str, read: Callable[[], Awaitable[None]]) -> None:
        """Start ``read`` unless a read of the same name is under way."""
        if name not in self._reads:
            task = asyncio.get_running_loop().create_task(read())
            self._reads[name] = task
            task.add_done_callback(lambda _: self._reads.pop(name, None))

    async def _recount(self) -> None:
        try:
            self.model.load_counts(await self.source.flow_counts())
        except UNREACHABLE as error:
            log.warning("the dashboard could not count flows: %s", error)
        self.throttle.poke()

    async def _read_older(self) -> None:
        """The next page of older flows, from where the last one ended."""
        older = self.model.older
        if older is None:
            return
        query = FlowQuery(limit=FLOW_PAGE, after=FlowCursor.decode(older))
        try:
            page = await self.source.query_flows(query)
        except UNREACHABLE as error:
            log.warning("the dashboard could not read older flows: %s", error)
            return
        self.model.load_older(page.flows, page.next_cursor)
        for flow in page.flows[:BACKFILL]:
            self.model.want_progress(flow.id)
        self._backfill()
        self.throttle.poke()

    def _backfill(self) -> None:
        """Read back the progress of listed flows the model lacks, one flow at a time."""
        if self.model.progress_unknown and (self._filling is None or self._filling.done()):
            self._filling = asyncio.get_running_loop().create_task(self._fill())

    async def _fill(self) -> None:
        while (flow_id := self.model.next_unknown()) is not None:
            try:
                raw = await self.source.flow_events(flow_id)
            except NotFoundError:
                continue
            except UNREACHABLE as error:
                log.warning("the dashboard could not read flow %s: %s", flow_id, error)
                return
            self.model.load_progress(flow_id, [Event.from_dict(item) for item in raw])
            self.throttle.poke()


# -------------------------------------------------------------------- remote


class RemoteEngine:
    """An engine served elsewhere (``argyll serve``), used through ``argyll.client.AsyncClient``.

    ``start`` opens one event stream and reads the catalog; every ``events()`` call
    gets its own queue fed from that stream, so several pages can share one
    ``RemoteEngine``, and the catalog follows the stream's catalog events. Errors
    are the client's: the engine's own error classes with their fields.
    """

    def __init__(
        self, url: str, timeout: float = DEFAULT_TIMEOUT, token: str | None = None
    ) -> None:
        self.client = AsyncClient(url, timeout=timeout, token=token)
        self.url = self.client.base_url
        self.catalog = Catalog()
        self.timeout = timeout
        self._reader: asyncio.Task[None] | None = None
        self._queues: set[asyncio.Queue[Event | None]] = set()
        self._live = asyncio.Event()

    async def start(self) -> None:
        stream = await self._open()
        self._reader = asyncio.get_running_loop().create_task(self._read(stream))

    async def _open(self) -> EventStream:
        """Connect the stream first, then read the catalog, so no catalog event falls between."""
        stream = await self.client.stream().connect()
        try:
            self.catalog = catalog_from(await self.client.engine_info())
        except BaseException:
            stream.close()
            raise
        self._live.set()
        return stream

    async def aclose(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        await self.client.aclose()

    def events(self, after: str | None = None) -> AsyncIterator[Event]:
        """Live events from now on, until the connection drops (``after`` is not supported).

        After a drop, call again: the new iterator gets what follows the reconnection.
        """
        queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self._queues.add(queue)
        return self._drain(queue)

    async def query_flows(self, query: FlowQuery) -> FlowPage:
        """A page of flows, once the stream is up: a snapshot must not precede the stream."""
        await self._until_live()
        return await self.client.query_flows(**query.to_body())

    async def flow_counts(self) -> dict[FlowStatus, int]:
        return dict((await self.client.engine_info()).flow_counts)

    async def _until_live(self) -> None:
        try:
            async with asyncio.timeout(self.timeout):
                await self._live.wait()
        except TimeoutError:
            raise ArgyllError(f"not connected to {self.url}") from None

    async def flow_events(self, flow_id: str) -> list[dict[str, Any]]:
        return await self.client.flow_events(flow_id)

    async def start_flow(
        self, goals: Iterable[str], init: Mapping[str, Any] | None = None
    ) -> FlowID:
        return await self.client.start_flow(goals, init)

    async def register_step(self, definition: Mapping[str, Any]) -> Step:
        return await self.client.register_step(definition)

    async def update_step(self, step_id: str, definition: Mapping[str, Any]) -> Step:
        return await self.client.update_step(step_id, definition)

    async def pause_flow(self, flow_id: str, reason: str | None = None) -> FlowStatus:
        return await self.client.pause_flow(flow_id, reason)

    async def resume_flow(self, flow_id: str, reason: str | None = None) -> FlowStatus:
        return await self.client.resume_flow(flow_id, reason)

    async def cancel_flow(self, flow_id: str, reason: str | None = None) -> FlowStatus:
        return await self.client.cancel_flow(flow_id, reason)

    async def retry_flow(self, flow_id: str, *, reason: str | None = None) -> FlowStatus:
        return await self.client.retry_flow(flow_id, reason=reason)

    async def complete_step(
        self, flow_id: str, step_id: str, outputs: Mapping[str, Any], reason: str | None = None
    ) -> FlowStatus:
        return await self.client.complete_step(flow_id, step_id, outputs, reason)

    async def skip_step(self, flow_id: str, step_id: str, reason: str | None = None) -> FlowStatus:
        return await self.client.skip_step(flow_id, step_id, reason)

    async def unregister_step(self, step_id: str) -> None:
        await self.client.unregister_step(step_id)

    async def _read(self, stream: EventStream) -> None:
        """Pass the stream on to every queue; when it drops, end them and reconnect."""
        while True:
            try:
                async for item in stream:
                    event = Event.from_dict(item)
                    if event.aggregate == CATALOG and event.seq > self.catalog.version:
                        self.catalog = fold(self.catalog, [event], CATALOG_APPLIERS)
                    for queue in self._queues:
                        queue.put_nowait(event)
                log.warning("the event stream of %s ended", self.url)
            except UNREACHABLE as error:
                log.warning("the event stream of %s ended: %s", self.url, error)
            finally:
                stream.close()
            self._live.clear()
            for queue in self._queues:
                queue.put_nowait(None)
            stream = await self._reopen()

    async def _reopen(self) -> EventStream:
        attempt = 0
        while True:
            try:
                return await self._open()
            except UNREACHABLE:
                await asyncio.sleep(retry_delay(attempt))
                attempt += 1

    async def _drain(self, queue: asyncio.Queue[Event | None]) -> AsyncIterator[Event]:
        try:
            while (event := await queue.get()) is not None:
                yield event
        finally:
            self._queues.discard(queue)


def catalog_from(engine: EngineInfo) -> Catalog:
    """A catalog folded from ``GET /engine``'s steps and health.

    Its version is 0, not the store's (which the API does not give), so every
    catalog event that arrives later over the WebSocket is folded onto it.
    """
    now = datetime.now(UTC)
    data: list[EventData] = [StepRegistered(step) for step in engine.steps.values()]
    data += [
        StepHealthChanged(sid, health.status.value, health.error)
        for sid, health in engine.health.items()
    ]
    events = [Event(CATALOG, seq, now, item) for seq, item in enumerate(data, 1)]
    return replace(fold(Catalog(), events, CATALOG_APPLIERS), version=0)
