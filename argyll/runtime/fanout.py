"""One reader of the live feed per process, handing each event to those who follow its aggregate.

A WebSocket client that follows some flows registers for their aggregates; the
fan-out reads the live feed once for all of them and looks each event's
aggregate up in a dict, so a client costs nothing for the events of flows it did
not ask for, and a thousand clients cost one read, not a thousand. The reader
starts with the first follower, its position taken as ``follow`` returns (so
every event appended after that is delivered), and stops with the last. It asks
the store to decode only the followed aggregates' events (``wanted``): an entry
read before a follower came was appended before it did, so its past holds it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Protocol

from argyll.errors import ArgyllError
from argyll.events import Event
from argyll.store.feed import Wanted

log = logging.getLogger("argyll.server")


class Follower(Protocol):
    def on_event(self, event: Event) -> None:
        """An event of a followed aggregate, in feed order; must not block."""
        ...

    def on_end(self, failed: bool) -> None:
        """The feed ended: the store closed, or (``failed``) reading it failed."""
        ...


class FeedFanout:
    """Followers by aggregate, and the one task that reads the live feed for them."""

    def __init__(
        self, subscribe: Callable[[str | None, Wanted | None], AsyncIterator[Event]]
    ) -> None:
        self._subscribe = subscribe
        self._followers: dict[str, set[Follower]] = {}
        self._reader: asyncio.Task[None] | None = None

    def follow(self, aggregates: Iterable[str], follower: Follower) -> None:
        """Deliver to ``follower`` every event of ``aggregates`` appended from now on."""
        if self._reader is None:
            events = self._subscribe(None, self._followed)
            self._reader = asyncio.create_task(self._read(events), name="argyll-fanout")
        for aggregate in aggregates:
            self._followers.setdefault(aggregate, set()).add(follower)

    def unfollow(self, aggregates: Iterable[str], follower: Follower) -> None:
        """Stop delivering to ``follower``; the reader stops when no one follows anything."""
        for aggregate in aggregates:
            followers = self._followers.get(aggregate)
            if followers is not None:
                followers.discard(follower)
                if not followers:
                    del self._followers[aggregate]
        if not self._followers and self._reader is not None:
            self._reader.cancel()
            self._reader = None

    def _followed(self, aggregate: str, event_type: str) -> bool:
        return aggregate in self._followers

    @property
    def reading(self) -> bool:
        return self._reader is not None

    async def _read(self, events: AsyncIterator[Event]) -> None:
        failed = False
        try:
            async for event in events:
                for follower in tuple(self._followers.get(event.aggregate, ())):
                    follower.on_event(event)
        except ArgyllError:
            log.exception("the event feed failed under the WebSocket clients of flows")
            failed = True
        ended = {follower for followers in self._followers.values() for follower in followers}
        self._followers.clear()
        self._reader = None
        for follower in ended:
            follower.on_end(failed)
