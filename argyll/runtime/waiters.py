"""Long polls: a flow's state or status once it has ended, or when the wait is over.

A waiter costs one future in the engine's ``FlowCache`` and one timer on the loop:
no task of its own, nothing that wakes it but the flow's end (``FlowCache.keep``
resolves it, for a flow another instance runs too, through the engine's feed
follower) or the bound. A flow that has already ended is answered at once; so is
``seconds == 0``. The answer at the bound is the flow as it stands then.
"""

from __future__ import annotations

import contextlib

from argyll.model import FlowState, FlowSummary
from argyll.runtime.engine import Engine

MAX_WAIT = 60.0
"""The longest a read waits for a flow to end, in seconds (a longer ``wait`` is cut to it)."""


async def state_after(engine: Engine, flow_id: str, seconds: float) -> FlowState:
    """The flow's state once it has ended, or after ``seconds``; NotFoundError if unknown."""
    if seconds <= 0:
        return await engine.get_flow(flow_id)
    try:
        return await engine.wait_flow(flow_id, min(seconds, MAX_WAIT))
    except TimeoutError:
        return await engine.get_flow(flow_id)


async def status_after(engine: Engine, flow_id: str, seconds: float) -> FlowSummary:
    """The flow's index row once it has ended, or after ``seconds``; NotFoundError if unknown.

    The row is read first, so an unknown or ended flow is answered without folding it.
    """
    summary = await engine.flow_status(flow_id)
    if seconds <= 0 or summary.status.ended:
        return summary
    with contextlib.suppress(TimeoutError):
        await engine.wait_flow(flow_id, min(seconds, MAX_WAIT))
    return await engine.flow_status(flow_id)
