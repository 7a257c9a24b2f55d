"""Long polls: a flow's state or status once it has ended, or when the wait is over.

A waiter costs one future in the engine's ``FlowCache`` and one timer on the loop:
no task of its own, nothing that wakes it but the flow's end (``FlowCache.keep``
resolves it, for a flow another instance runs too, through the engine's feed
follower), the bound, or ``Hold.release`` (the server's client went away). A flow
that has already ended is answered at once; so is a wait of 0. The answer is the
flow as it stands then, read from the engine's memory when it knows the flow.
"""

from __future__ import annotations

import asyncio
import contextlib

from argyll.model import FlowState, FlowSummary
from argyll.runtime.engine import Engine
from argyll.wire import MAX_WAIT


class Hold:
    """How long one read may wait for a flow to end; ``release`` ends the wait at once."""

    def __init__(self, seconds: float) -> None:
        self.seconds = min(max(seconds, 0.0), MAX_WAIT)
        self._bound: asyncio.Timeout | None = None
        self._released = False

    def release(self) -> None:
        """Stop waiting now (whoever asked is gone)."""
        self._released = True
        if self._bound is not None:
            self._bound.reschedule(asyncio.get_running_loop().time())

    async def until_ended(self, engine: Engine, flow_id: str) -> None:
        """Return once the flow has ended, the time is up or the hold is released;
        NotFoundError at once for a flow the engine does not know."""
        if self.seconds == 0 or self._released:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.seconds) as bound:
                self._bound = bound
                await engine.wait_flow(flow_id)
        self._bound = None


async def state_after(engine: Engine, flow_id: str, hold: Hold) -> FlowState:
    """The flow's state once it has ended, or when ``hold`` is over; NotFoundError if unknown."""
    await hold.until_ended(engine, flow_id)
    return await engine.get_flow(flow_id)


async def status_after(engine: Engine, flow_id: str, hold: Hold) -> FlowSummary:
    """The flow's index row once it has ended, or when ``hold`` is over; NotFoundError if
    unknown. The row is read first, so an unknown or ended flow is answered without folding it.
    """
    summary = await engine.flow_status(flow_id)
    if summary.status.ended:
        return summary
    await hold.until_ended(engine, flow_id)
    return await engine.flow_status(flow_id)
