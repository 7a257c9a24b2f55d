"""Event stores, chosen by URL.

``open_store(url)`` can be awaited or used as an async context manager::

    store = await open_store("memory://")        # close it with await store.aclose()
    async with open_store("sqlite:///argyll.db") as store:
        ...

Every store is an async context manager too (``async with await open_store(url)``).
URLs: ``memory://`` (ephemeral), ``sqlite:///path`` (see ``argyll.store.sqlite``
for the path forms) and ``redis://host:port/db`` (shared by any number of engines;
``rediss://``, ``redis+cluster://`` and the ``?prefix=`` option are in
``argyll.store.redis``). Every URL takes ``?memo_limit=N``, the most memo entries
the store keeps (``argyll.store.options``).

The protocol, in the roles a store plays (streams, feed, flow index, snapshots,
leases, slots, memos, lifecycle), is in ``argyll.store.base``; ``argyll.store.contract`` is the
pytest suite a backend runs, role by role. The durable stores encode events
with ``argyll.codec`` and keep the flow index by ``argyll.flow_index``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Coroutine, Generator
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from argyll.errors import ValidationError
from argyll.redaction import redact_url
from argyll.store.base import EventStore
from argyll.store.memory import MemoryEventStore
from argyll.store.options import split_memo_limit
from argyll.store.redis import SCHEMES as REDIS_SCHEMES
from argyll.store.redis import RedisEventStore
from argyll.store.sqlite import SQLiteEventStore

__all__ = [
    "EventStore",
    "MemoryEventStore",
    "RedisEventStore",
    "SQLiteEventStore",
    "default_sqlite_url",
    "open_store",
]


async def _open_memory(url: str) -> EventStore:
    return MemoryEventStore(memo_limit=split_memo_limit(url)[1])


_OPENERS: dict[str, Callable[[str], Coroutine[Any, Any, EventStore]]] = {
    "memory": _open_memory,
    "sqlite": SQLiteEventStore.open,
    **{scheme: RedisEventStore.open for scheme in REDIS_SCHEMES},
}


def default_sqlite_url() -> str:
    """``sqlite:///$ARGYLL_HOME/argyll.db``, with ARGYLL_HOME defaulting to ``~/.argyll``."""
    home = Path(os.environ.get("ARGYLL_HOME") or "~/.argyll").expanduser()
    return f"sqlite:///{home.absolute() / 'argyll.db'}"


class _OpenStore:
    """The store being opened: await it for the store, or ``async with`` it to close it after."""

    def __init__(self, url: str) -> None:
        scheme = urlsplit(url).scheme
        if scheme not in _OPENERS:
            schemes = ", ".join(f"{name}://" for name in _OPENERS)
            shown = redact_url(url)
            raise ValidationError([("store", f"{shown!r}: unknown scheme, use one of {schemes}")])
        self._url = url
        self._opener = _OPENERS[scheme]
        self._store: EventStore | None = None

    def __await__(self) -> Generator[Any, None, EventStore]:
        return self._opener(self._url).__await__()

    async def __aenter__(self) -> EventStore:
        self._store = await self._opener(self._url)
        return self._store

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._store is not None:
            await self._store.aclose()


def open_store(url: str) -> _OpenStore:
    """Open the event store ``url`` names; raises ValidationError for an unknown scheme.

    Args:
        url: ``memory://``, ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db``,
            ``sqlite:///:memory:``, ``redis://host:port/db[?prefix=argyll:]`` (also
            ``rediss://``) or ``redis+cluster://host:port`` (``rediss+cluster://``).
    """
    return _OpenStore(url)
