"""Reading the feed by position: pages of the global feed and of one aggregate's stream.

Every stored event carries its feed ``position``, which the store alone makes and
checks; a reader hands the last one it got back as ``after`` and goes on with no
gap and no repeat. A page of the global feed is one bounded store read. A page of
one aggregate (the catalog) reads that aggregate's stream, never the global feed,
and keeps the events after ``after`` by ``position_key``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from argyll.events import Event
from argyll.store import EventStore
from argyll.store.feed import position_key


@dataclass(frozen=True, slots=True)
class Page:
    """Events after a position, and where the next page starts (``after`` itself when the
    page is empty: nothing newer yet)."""

    events: list[Event]
    next_after: str

    def to_dict(self) -> dict[str, Any]:
        events = [event.to_dict() for event in self.events]
        return {"events": events, "count": len(events), "next_after": self.next_after}


async def check_position(store: EventStore, after: str) -> None:
    """ValidationError (field ``after``) unless ``after`` is "" or a position of ``store``."""
    await store.read_all(after, 0)
    position_key(after)


def _page(events: list[Event], after: str) -> Page:
    return Page(events, events[-1].position if events else after)


async def feed_page(store: EventStore, after: str, limit: int) -> Page:
    """Up to ``limit`` events of the global feed after ``after``."""
    return _page(await store.read_all(after, limit), after)


async def stream_page(store: EventStore, aggregate: str, after: str, limit: int) -> Page:
    """Up to ``limit`` events of ``aggregate`` after the feed position ``after``."""
    await check_position(store, after)
    start = position_key(after)
    later = [event for event in await store.read(aggregate) if position_key(event.position) > start]
    return _page(later[:limit], after)
