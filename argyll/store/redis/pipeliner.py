"""Auto-pipelining: the commands every task issues in one event-loop turn go out together.

Callers queue a command and await its reply; once every task ready this turn
has queued its own, the queue is sent as one pipeline (at most ``MAX_GROUP``
commands, ``MAX_IN_FLIGHT`` pipelines on the wire). Grouped requests (the
store's appends) join the one command their group (a shard) sends in that
pipeline, whose reply is a list with one item per request; each is still
answered on its own. A script the server lost (a restart, SCRIPT FLUSH) is
loaded again and its commands sent once more: none of them had run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import NoScriptError

from argyll.store.redis.scripts import Script

MAX_GROUP = 1000
"""Commands (appends included) sent in one pipeline at most."""
MAX_IN_FLIGHT = 2
"""Pipelines on the wire at once, so reads queued behind a large group need not wait for it."""

Client = Redis | RedisCluster
GroupCommand = Callable[[int, list[Any]], tuple[Any, ...]]
"""(group, the items of its requests in this pipeline) -> the one command that serves them."""


@dataclass(slots=True)
class _Request:
    """One command waiting for the next pipeline, and the caller waiting for its reply."""

    command: tuple[Any, ...]
    reply: asyncio.Future[Any]


@dataclass(slots=True)
class _Grouped:
    """One request waiting to join its group's command in the next pipeline."""

    group: int
    item: Any
    reply: asyncio.Future[Any]


class Pipeliner:
    """One queue of commands per store, sent as pipelines on the store's client."""

    def __init__(
        self, client: Client, scripts: Sequence[Script], group_command: GroupCommand
    ) -> None:
        self._client = client
        self._scripts = scripts
        self._group_command = group_command
        self._queue: list[_Request | _Grouped] = []
        self._flush_scheduled = False
        self._sending: set[asyncio.Task[None]] = set()

    def execute(self, *command: Any) -> asyncio.Future[Any]:
        """Queue ``command`` for the next pipeline; the future gets its reply or its error."""
        return self._enqueue(_Request(command, _future()))

    def script(self, script: Script, keys: list[str], args: list[Any]) -> asyncio.Future[Any]:
        return self.execute("EVALSHA", script.sha, len(keys), *keys, *args)

    def grouped(self, group: int, item: Any) -> asyncio.Future[Any]:
        """Queue ``item`` for its group's command; the future gets its own part of the reply."""
        return self._enqueue(_Grouped(group, item, _future()))

    async def load_scripts(self) -> None:
        for script in self._scripts:
            await self._client.script_load(script.text)

    async def drain(self) -> None:
        """Send every command already queued and wait for the pipelines on the wire."""
        while self._queue or self._sending:
            if not self._sending:
                self._flush()
            await asyncio.wait(self._sending)

    def _enqueue(self, request: _Request | _Grouped) -> asyncio.Future[Any]:
        self._queue.append(request)
        if not self._flush_scheduled and len(self._sending) < MAX_IN_FLIGHT:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)
        return request.reply

    def _flush(self) -> None:
        """Send the queue as one pipeline, once every task ready this turn has added to it."""
        self._flush_scheduled = False
        if not self._queue or len(self._sending) >= MAX_IN_FLIGHT:
            return
        group, self._queue = self._queue[:MAX_GROUP], self._queue[MAX_GROUP:]
        sending = asyncio.get_running_loop().create_task(self._send(group))
        self._sending.add(sending)
        sending.add_done_callback(self._sent)

    def _sent(self, sending: asyncio.Task[None]) -> None:
        self._sending.discard(sending)
        if self._queue and not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    async def _send(self, requests: list[_Request | _Grouped]) -> None:
        """One pipeline: the plain commands, and one command per group."""
        commands: list[tuple[Any, ...]] = []
        waiting: list[list[asyncio.Future[Any]] | asyncio.Future[Any]] = []
        groups: dict[int, list[_Grouped]] = {}
        for request in requests:
            if isinstance(request, _Grouped):
                groups.setdefault(request.group, []).append(request)
            else:
                commands.append(request.command)
                waiting.append(request.reply)
        for group, batch in groups.items():
            commands.append(self._group_command(group, [request.item for request in batch]))
            waiting.append([request.reply for request in batch])
        replies: list[Any]
        try:
            replies = await self._pipeline(commands)
            lost = [n for n, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
            if lost:  # the server restarted or flushed its scripts: none of those ran
                await self.load_scripts()
                again = await self._pipeline([commands[n] for n in lost])
                for n, reply in zip(lost, again, strict=True):
                    replies[n] = reply
        except Exception as error:
            replies = [error] * len(commands)
        for futures, reply in zip(waiting, replies, strict=True):
            if isinstance(futures, list):
                fanned = [reply] * len(futures) if isinstance(reply, BaseException) else reply
                for future, each in zip(futures, fanned, strict=True):
                    _settle(future, each)
            else:
                _settle(futures, reply)

    async def _pipeline(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        pipe = self._client.pipeline(transaction=False)
        for command in commands:
            pipe.execute_command(*command)  # EVALSHA too: a cluster pipeline refuses evalsha()
        replies: list[Any] = await pipe.execute(raise_on_error=False)
        return replies


def _future() -> asyncio.Future[Any]:
    return asyncio.get_running_loop().create_future()


def _settle(future: asyncio.Future[Any], reply: Any) -> None:
    if future.done():  # its caller was cancelled
        return
    if isinstance(reply, BaseException):
        future.set_exception(reply)
    else:
        future.set_result(reply)
