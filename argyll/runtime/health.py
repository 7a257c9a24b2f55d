"""Health: probing the store, and probing HTTP steps with recorded changes (docs/concepts.md).

Each HTTP step with a ``health_check`` URL is probed every ``interval``
seconds; the catalog rule ``on_health`` turns a probe into an event only when
the step's health changed, so a steady service writes nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from argyll import catalog as catalog_rules
from argyll.errors import ArgyllError
from argyll.events import EventData
from argyll.model import Catalog
from argyll.runtime.http import HttpCaller
from argyll.store import EventStore

CatalogRule = Callable[[Catalog], list[EventData]]
ChangeCatalog = Callable[[CatalogRule], Awaitable[bool]]
"""Apply a catalog rule and append what it decides (the engine's optimistic loop)."""


async def store_health(store: EventStore) -> dict[str, Any]:
    """Whether the store answers, and how fast: ``{status, store, latency_ms, error?}``."""
    scheme = store.url.split(":", 1)[0]
    start = time.perf_counter()
    try:
        await store.head()
    except ArgyllError as error:
        return {"status": "unhealthy", "store": scheme, "error": str(error)}
    latency = round((time.perf_counter() - start) * 1000, 3)
    return {"status": "ok", "store": scheme, "latency_ms": latency}


class HealthMonitor:
    """Probes the HTTP steps of the current catalog and records what changed."""

    def __init__(
        self, http: HttpCaller, catalog: Callable[[], Catalog], change: ChangeCatalog
    ) -> None:
        self._http, self._catalog, self._change = http, catalog, change

    async def check(self) -> None:
        """Probe every HTTP step that has a health_check once; record only changes."""
        probes = {
            step.id: step.http.health_check
            for step in self._catalog().steps.values()
            if step.http is not None and step.http.health_check
        }
        results = await asyncio.gather(*(self._http.probe(url) for url in probes.values()))
        for step_id, (status, error) in zip(probes, results, strict=True):
            await self._change(
                lambda cat, sid=step_id, st=status, err=error: catalog_rules.on_health(
                    cat, sid, st, err
                )
            )

    async def watch(self, interval: float) -> None:
        """Check now and every ``interval`` seconds after, until cancelled."""
        while True:
            await self.check()
            await asyncio.sleep(interval)
