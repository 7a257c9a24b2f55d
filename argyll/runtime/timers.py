"""Wake-ups at due times (retries), on the event loop's own timer heap: no polling."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from argyll.runtime.clock import Clock


class Timers:
    """Calls ``fire(key)`` once at each distinct (key, due time) scheduled."""

    def __init__(self, clock: Clock, fire: Callable[[str], None]) -> None:
        self._clock, self._fire = clock, fire
        self._handles: dict[tuple[str, datetime], asyncio.TimerHandle] = {}

    def schedule(self, key: str, at: datetime) -> None:
        if (key, at) in self._handles:
            return
        delay = max((at - self._clock.now()).total_seconds(), 0.0)
        loop = asyncio.get_running_loop()
        self._handles[(key, at)] = loop.call_later(delay, self._due, key, at)

    def _due(self, key: str, at: datetime) -> None:
        del self._handles[(key, at)]
        self._fire(key)

    def __len__(self) -> int:
        return len(self._handles)

    def cancel_all(self) -> None:
        for handle in self._handles.values():
            handle.cancel()
        self._handles.clear()
