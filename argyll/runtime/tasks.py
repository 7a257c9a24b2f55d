"""Background tasks the engine starts and does not await: tracked, failures logged, cancelled.

Nothing the engine spawns may fail silently or outlive it: each task is held
until done, an exception is logged as it ends, and closing cancels them all.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger("argyll.engine")


class BackgroundTasks:
    """The engine's fire-and-forget tasks."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background work failed", exc_info=task.exception())

    async def cancel_all(self, *others: asyncio.Task[Any]) -> None:
        """Cancel every task (and ``others``) and wait until they have all stopped."""
        tasks = [*self._tasks, *others]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
