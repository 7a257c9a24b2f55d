"""Holding this instance's lease, and taking over the work of instances that died.

An engine renews its heartbeat every ``interval`` seconds; after each renewal it
frees the concurrency slots of instances whose lease lapsed (waking this engine's
waiting items), then asks its ``OpenWork`` (see ``leases.py``) which flows hold work
of dead instances, or have been quiet for longer than a lease (a flow whose items
wait in line for a slot is not quiet), and hands them to ``take_over``
(``TAKEOVERS_AT_ONCE`` at a time), which lets the deciders re-dispatch what was
lost. A renewal that fails is logged and tried again: the store may come back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from argyll.errors import ArgyllError
from argyll.model import FlowID
from argyll.runtime.clock import Clock
from argyll.runtime.leases import OpenWork, is_dead
from argyll.store import EventStore

log = logging.getLogger("argyll.engine")

TAKEOVERS_AT_ONCE = 500
"""Flows taken over at once, so that their reads and claims reach the store together."""
IsDead = Callable[[str], bool]
TakeOver = Callable[[Sequence[FlowID], IsDead], Awaitable[None]]
"""Take on some flows' orphaned work, given which owners are dead."""


class SlotWatch(Protocol):
    """What the lease keeper needs of the engine's concurrency slots."""

    def freed(self) -> None:
        """Slots were reaped: ask again for the items waiting for one."""
        ...

    async def flows_in_line(self) -> set[FlowID]:
        """The flows with items waiting for a slot (for a live instance, once reaped)."""
        ...


class LeaseKeeper:
    """The heartbeat, takeover and retirement of one engine instance."""

    def __init__(
        self,
        instance_id: str,
        ttl: float,
        interval: float,
        open_work: OpenWork,
        clock: Clock,
        take_over: TakeOver,
        slots: SlotWatch,
    ) -> None:
        self._me, self._ttl, self._interval = instance_id, ttl, interval
        self._open_work, self._clock, self._take_over = open_work, clock, take_over
        self._slots = slots

    async def renew(self, store: EventStore) -> None:
        await store.heartbeat(self._me, self._ttl)

    async def take_over_orphans(self, store: EventStore) -> None:
        """Free the slots of dead instances, then take on their work."""
        if await store.reap_slots():
            self._slots.freed()
        in_line = await self._slots.flows_in_line()
        live = await store.live_instances()
        me = self._me

        def dead(owner: str) -> bool:
            return is_dead(owner, me, live)

        orphans = list(self._open_work.orphaned(me, live, self._clock.now(), self._ttl, in_line))
        for first in range(0, len(orphans), TAKEOVERS_AT_ONCE):
            await self._take_over(orphans[first : first + TAKEOVERS_AT_ONCE], dead)

    async def keep_alive(self, store: EventStore) -> None:
        """Renew the lease and take on the work of instances that died, until cancelled."""
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.renew(store)
                await self.take_over_orphans(store)
            except ArgyllError as error:
                log.warning("lease renewal failed: %s", error)

    async def retire(self, store: EventStore) -> None:
        """Give up the lease at shutdown, so others need not wait for it to lapse."""
        with contextlib.suppress(ArgyllError):
            await store.retire(self._me)
