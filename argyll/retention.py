"""The retention rule: which flows' history may be removed once it is old enough.

A flow's history is removable when the flow has ended (completed, failed or
canceled: nothing more runs unless it is retried), it ended before the cutoff, and
it is deactivated: its last event is ``flow_deactivated``, so no compensation of it
is still running. The index row does not carry deactivation, so each store checks
the flow's last event beside ``expired``.

Every store applies this rule in the same write as the removal, so a flow retried
between a sweep's look and its removal keeps its history; the Redis store's
``remove_flows.lua`` states it again in Lua, over the same index row.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from argyll.model import FlowSummary

DAY = timedelta(days=1)


def expired(summary: FlowSummary, before: datetime) -> bool:
    """Whether the flow ended, and that was before ``before``."""
    ended = summary.completed_at
    return summary.status.ended and ended is not None and ended < before


def cutoff(now: datetime, days: float) -> datetime:
    """The moment before which a flow must have ended to be removed, keeping ``days`` of it."""
    return now - days * DAY
