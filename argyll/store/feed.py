"""What the stores share to serve the global feed: waking subscribers, positions, filters.

The memory and SQLite stores number their feed 1, 2, 3, ... and show a position
as that number in decimal (``feed_index`` reads it back); every store wakes its
subscribers after an append through a ``ChangeSignal``. Every store's positions
are decimal numbers joined by ``-`` that order as tuples of those numbers
(Redis: ``<ms>-<seq>-<shard>``), so ``position_key`` orders positions of any store
without asking it; only the store says whether a position is one of its own.

A subscriber may say which entries it wants (``Wanted``, asked with an entry's
aggregate and type, which every store keeps beside the encoded data): the others
are passed over without decoding their data, and the subscription's position moves
on past them all the same.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from argyll.errors import ValidationError

Wanted = Callable[[str, str], bool]
"""``(aggregate, type) -> bool``: whether a subscriber wants a feed entry, asked before
its data is decoded."""


class ChangeSignal:
    """Wakes waiters after a change; take ``waiter()`` before looking, and no change is missed.

    The asyncio.Event is renewed after each ``fire`` and only made when someone
    waits, so an append with no subscriber pays one attribute test.
    """

    def __init__(self) -> None:
        self._event: asyncio.Event | None = None

    def waiter(self) -> asyncio.Event:
        if self._event is None:
            self._event = asyncio.Event()
        return self._event

    def fire(self) -> None:
        if self._event is not None:
            self._event.set()
            self._event = None


def feed_index(position: str) -> int:
    """The number of feed events up to ``position`` ("" is the start)."""
    if position == "":
        return 0
    if position.isascii() and position.isdecimal():
        return int(position)
    raise ValidationError([("after", f"{position!r} is not a position of this store")])


def position_key(position: str) -> tuple[int, ...]:
    """Where ``position`` falls in the feed: a key that orders positions as the feed does
    ("" is the start, before every event)."""
    if position == "":
        return ()
    parts = position.split("-")
    if all(part.isascii() and part.isdecimal() for part in parts):
        return tuple(int(part) for part in parts)
    raise ValidationError([("after", f"{position!r} is not a position of this store")])
