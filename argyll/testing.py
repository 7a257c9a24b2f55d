"""Helpers for tests and notebooks: clocks moved by hand, quick step definitions, bounded waits.

``FakeClock`` stands in for the engine's clock (datetimes), ``FakeTimer`` for an
event loop's timers (seconds and delayed callbacks). ``wait_until`` is the one
way tests wait for a condition: bounded, and its timeout names what was awaited.
"""

from __future__ import annotations

import asyncio
import heapq
import inspect
import itertools
import json
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from argyll import decide
from argyll.apply import CATALOG_APPLIERS, fold
from argyll.catalog import on_register
from argyll.events import CATALOG, Event, EventData, flow_aggregate
from argyll.model import Catalog, FlowID, parse_step
from argyll.planner import plan as make_plan
from argyll.wire import JSON_CONTENT_TYPE

if TYPE_CHECKING:
    from argyll.store import EventStore


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, milliseconds: int) -> datetime:
        self.current += timedelta(milliseconds=milliseconds)
        return self.current


@dataclass(order=True)
class _Scheduled:
    when: float
    number: int
    callback: Callable[[], object] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class FakeTimer:
    """An event loop's ``time`` and ``call_later``, with time that moves only on ``advance``."""

    def __init__(self, start: float = 0.0) -> None:
        self.current = start
        self._due: list[_Scheduled] = []
        self._numbers = itertools.count()

    def time(self) -> float:
        return self.current

    def call_later(self, delay: float, callback: Callable[[], object]) -> _Scheduled:
        scheduled = _Scheduled(self.current + max(0.0, delay), next(self._numbers), callback)
        heapq.heappush(self._due, scheduled)
        return scheduled

    def advance(self, seconds: float) -> None:
        """Move time on by ``seconds``, running each callback due by then at its own time."""
        end = self.current + seconds
        while self._due and self._due[0].when <= end:
            scheduled = heapq.heappop(self._due)
            if not scheduled.cancelled:
                self.current = scheduled.when
                scheduled.callback()
        self.current = end


def counter_tokens(prefix: str = "t") -> Any:
    """Deterministic receipt tokens ``t1, t2, ...`` for reproducible tests."""
    numbers = itertools.count(1)
    return lambda: f"{prefix}{next(numbers)}"


def script_step(
    step_id: str,
    script: str,
    *,
    requires: Iterable[str] = (),
    optional: Mapping[str, str | None] | None = None,
    outputs: Iterable[str] = (),
    language: str = "ale",
    types: Mapping[str, str] | None = None,
    for_each: Iterable[str] = (),
    predicate: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A script step definition as docs/steps.md JSON; ``optional`` maps names to JSON defaults."""
    types = types or {}
    fan = set(for_each)
    attributes: dict[str, dict[str, Any]] = {}
    for name in requires:
        attributes[name] = {"role": "required", "type": types.get(name, "any")}
    for name, default in (optional or {}).items():
        attributes[name] = {"role": "optional", "type": types.get(name, "any")}
        if default is not None:
            attributes[name]["default"] = default
    for name in fan:
        attributes[name]["for_each"] = True
    for name in outputs:
        attributes[name] = {"role": "output", "type": types.get(name, "any")}
    step: dict[str, Any] = {
        "id": step_id,
        "type": "script",
        "attributes": attributes,
        "script": {"language": language, "script": script},
        **extra,
    }
    if predicate is not None:
        step["predicate"] = {"language": language, "script": predicate}
    return step


ORPHANING_INSTANCE = "elsewhere:1:gone"
"""The owner of the work ``write_orphaned_flows`` writes: an instance that never heartbeats."""


async def write_orphaned_flows(
    store: EventStore,
    definition: Mapping[str, Any],
    count: int,
    *,
    prefix: str = "orphan-",
    init: Mapping[str, Any] | None = None,
) -> list[str]:
    """``count`` active flows of the step ``definition`` (registered first), each with its
    work started by an instance that is gone, appended straight to the store (no engine):
    what a restart finds after a crash. Returns the flows' ids."""
    step = parse_step(definition)
    catalog = fold(Catalog(), await store.read(CATALOG), CATALOG_APPLIERS)
    now = datetime.now(UTC)
    registered = on_register(catalog, step)
    if registered:
        catalog = fold(
            catalog, await store.append(CATALOG, catalog.version, registered, now), CATALOG_APPLIERS
        )
    plan = make_plan(catalog, [step.id], dict(init or {}))
    context = decide.Context(now, counter_tokens(), ORPHANING_INSTANCE)
    template = decide.on_start(FlowID(prefix), plan, dict(init or {}), context).events
    ids = [f"{prefix}{n}" for n in range(count)]
    for first in range(0, count, 500):
        await asyncio.gather(
            *(
                store.append(flow_aggregate(flow_id), 0, _as_flow(template, flow_id), now)
                for flow_id in ids[first : first + 500]
            )
        )
    return ids


def _as_flow(template: Iterable[EventData], flow_id: str) -> list[EventData]:
    return [replace(data, flow_id=FlowID(flow_id)) for data in template]  # type: ignore[type-var]


def catalog_of(*definitions: Mapping[str, Any]) -> Catalog:
    """A catalog folded from registering each definition in turn, through the catalog rules."""
    catalog = Catalog()
    for definition in definitions:
        events = on_register(catalog, parse_step(definition))
        stamped = [
            Event(CATALOG, catalog.version + i + 1, datetime(2026, 1, 1, tzinfo=UTC), data)
            for i, data in enumerate(events)
        ]
        catalog = fold(catalog, stamped, CATALOG_APPLIERS)
    return catalog


@dataclass
class Call:
    """One request a StepService received."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


Reply = tuple[int, Any]
StepHandler = Callable[[Call], Awaitable[Reply] | Reply]


class StepService:
    """A real HTTP step service on loopback for tests: records calls, answers via a handler.

    ``async with StepService(handler) as service:`` then point steps at ``service.url``.
    The handler gets each ``Call`` and returns ``(status, json_body)``, or awaits first.
    """

    def __init__(self, handler: StepHandler) -> None:
        self.handler = handler
        self.calls: list[Call] = []
        self.url = ""
        self._server: Any = None

    async def __aenter__(self) -> StepService:
        import tornado.httpserver
        import tornado.netutil
        import tornado.web

        service = self

        class _Handler(tornado.web.RequestHandler):
            async def _serve(self, *_: str) -> None:
                await service._answer(self)

            get = post = put = delete = _serve

        app = tornado.web.Application([(r"/.*", _Handler)])
        (sock,) = tornado.netutil.bind_sockets(0, "127.0.0.1")
        self._server = tornado.httpserver.HTTPServer(app)
        self._server.add_sockets([sock])
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._server.stop()
        await self._server.close_all_connections()

    async def _answer(self, request: Any) -> None:
        raw = request.request.body
        call = Call(
            request.request.method,
            request.request.uri,
            dict(request.request.headers),
            json.loads(raw) if raw else None,
        )
        self.calls.append(call)
        reply = self.handler(call)
        status, body = await reply if inspect.isawaitable(reply) else reply
        request.set_status(status)
        if body is not None:
            request.set_header("Content-Type", JSON_CONTENT_TYPE)
            request.write(json.dumps(body))


T = TypeVar("T")


async def wait_until(
    condition: Callable[[], T | Awaitable[T]],
    what: str,
    *,
    timeout: float = 10.0,
    interval: float = 0.01,
) -> T:
    """``condition()``'s first truthy result, tried every ``interval`` seconds.

    ``condition`` may be a plain or an async function (state in another process
    is read with an await). After ``timeout`` seconds, even inside a ``condition``
    that hangs, it raises ``TimeoutError`` saying it was waiting for ``what``.
    """
    try:
        async with asyncio.timeout(timeout):
            while not (result := await _value_of(condition())):  # noqa: ASYNC110 - state may live elsewhere
                await asyncio.sleep(interval)
    except TimeoutError:
        raise _gave_up(what, timeout) from None
    return result


def wait_until_sync(
    condition: Callable[[], T], what: str, *, timeout: float = 10.0, interval: float = 0.05
) -> T:
    """``wait_until`` for code with no event loop (fixtures starting servers): it blocks."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() >= deadline:
            raise _gave_up(what, timeout)
        time.sleep(interval)
    return result


async def _value_of(result: T | Awaitable[T]) -> T:
    return await result if inspect.isawaitable(result) else result


def _gave_up(what: str, timeout: float) -> TimeoutError:
    return TimeoutError(f"gave up after {timeout} s waiting for {what}")
