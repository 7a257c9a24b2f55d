"""Helpers for tests and notebooks: a clock moved by hand, quick step definitions."""

from __future__ import annotations

import asyncio
import inspect
import itertools
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from argyll.apply import CATALOG_APPLIERS, fold
from argyll.catalog import on_register
from argyll.events import CATALOG, Event
from argyll.model import Catalog, parse_step


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, milliseconds: int) -> datetime:
        self.current += timedelta(milliseconds=milliseconds)
        return self.current


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
    """A script step definition as SPEC §1 JSON; ``optional`` maps names to JSON defaults."""
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
            request.set_header("Content-Type", "application/json")
            request.write(json.dumps(body))


async def wait_until(
    condition: Callable[[], Awaitable[bool]], timeout: float = 10.0, interval: float = 0.01
) -> None:
    """Poll ``condition`` (state in another process) until true; TimeoutError after ``timeout``."""
    async with asyncio.timeout(timeout):
        while not await condition():  # noqa: ASYNC110 - the state lives in another process
            await asyncio.sleep(interval)
