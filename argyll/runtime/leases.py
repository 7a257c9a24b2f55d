"""Who runs what: instance identities, liveness, and the open work each instance holds.

Every engine follows the events of every flow that say who holds what
(``OpenWork.TYPES``; its feed follower decodes these of flows it does not hold, and
skips the rest), so each keeps the same picture of which instance owns each running
work item. An instance proves it is alive with a
heartbeat in the store; when its heartbeat lapses (or, on this host, its
process is gone) its work is open to be claimed by any survivor. The engine's
loop that renews the lease and claims that work is ``takeover.py``.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Collection, Iterable
from datetime import datetime, timedelta

from argyll.events import (
    FLOW_ENDED_TYPES,
    FLOW_PREFIX,
    CompFailed,
    CompRetryScheduled,
    CompStarted,
    CompSucceeded,
    Event,
    FlowDeactivated,
    FlowPaused,
    FlowResumed,
    FlowRetried,
    FlowStarted,
    WorkFailed,
    WorkNotCompleted,
    WorkRetryScheduled,
    WorkStarted,
    WorkSucceeded,
)
from argyll.model import UNDOING, FlowID, FlowState, FlowStatus, Token, WorkStatus

HOST = socket.gethostname()
_QUIET_TYPES = FLOW_ENDED_TYPES | {FlowPaused.type}
"""After these a flow holds no work to take over: it ended, or waits for a resume."""
_RESUMING_TYPES = frozenset({FlowResumed.type, FlowRetried.type})
"""After these a flow runs again, holding work whose owners the feed no longer says."""
_WAKING_TYPES = _RESUMING_TYPES | {FlowStarted.type, CompStarted.type}
"""After these a flow runs (or an ended one compensates): its work is followed from here on."""
_CLAIMS = (WorkStarted, CompStarted)
_RESULTS = (WorkSucceeded, WorkFailed, CompSucceeded, CompFailed)
_RETRIES = (WorkNotCompleted, WorkRetryScheduled, CompRetryScheduled)
"""A work item waiting to run again: the flow is not quiet."""


def new_instance_id() -> str:
    """``host:pid:random``: unique, and telling which local process it was."""
    return f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _process_gone(instance: str) -> bool:
    """True only for an instance of this host whose process no longer exists."""
    host, _, rest = instance.partition(":")
    pid_text = rest.partition(":")[0]
    if host != HOST or not pid_text.isdecimal() or int(pid_text) == os.getpid():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def is_dead(owner: str, me: str, live: set[str]) -> bool:
    if owner == me:
        return False
    return owner not in live or _process_gone(owner)


class OpenWork:
    """The open work items of active flows and their owners, folded from the event feed.

    Only events of ``TYPES`` change it (a flow's activity included): the others come
    with one of these in the same append, or, alone (an operator's skip), at worst let a
    flow look quiet a lease early, and a takeover re-decides it finding nothing lost.
    """

    TYPES = frozenset(
        {
            *_QUIET_TYPES,
            *_WAKING_TYPES,
            FlowDeactivated.type,
            *(kind.type for kind in (*_CLAIMS, *_RESULTS, *_RETRIES)),
        }
    )
    """The event types this follows, of every flow on the store."""

    def __init__(self) -> None:
        self.owners: dict[FlowID, dict[Token, str]] = {}
        self.activity: dict[FlowID, datetime] = {}
        self.resumed: set[FlowID] = set()
        """Flows resumed or retried since the last sweep: each is looked at once, at the next."""

    def seed(self, state: FlowState) -> None:
        """Start from a folded flow (at start-up, before the feed takes over).

        An ended flow that is not deactivated may have compensation to carry on: it is
        looked at once, at the next sweep.
        """
        if state.status in UNDOING and state.deactivated_at is None:
            self.activity[state.id] = state.last_updated or state.created_at
            self.resumed.add(state.id)
            return
        if state.status is not FlowStatus.ACTIVE:  # paused ones are taken on when resumed
            return
        self.activity[state.id] = state.last_updated or state.created_at
        self.owners[state.id] = {
            token: item.owner
            for execution in state.executions.values()
            for token, item in execution.work_items.items()
            if item.status in (WorkStatus.ACTIVE, WorkStatus.NOT_COMPLETED)
        }

    def observe(self, event: Event) -> None:
        if event.type not in self.TYPES or not event.aggregate.startswith(FLOW_PREFIX):
            return
        flow_id = FlowID(event.aggregate[len(FLOW_PREFIX) :])
        data = event.data
        if data.type in _QUIET_TYPES or isinstance(data, FlowDeactivated):
            self.owners.pop(flow_id, None)
            self.activity.pop(flow_id, None)
            return
        if flow_id not in self.activity and data.type not in _WAKING_TYPES:
            return  # a late result in a paused or ended flow: nothing to take over until it runs
        self.activity[flow_id] = event.timestamp
        if data.type in _RESUMING_TYPES:
            self.resumed.add(flow_id)
        elif isinstance(data, _CLAIMS):
            self.owners.setdefault(flow_id, {})[data.token] = data.instance
        elif isinstance(data, _RESULTS):
            self.owners.get(flow_id, {}).pop(data.token, None)

    def orphaned(
        self,
        me: str,
        live: set[str],
        now: datetime,
        ttl: float,
        in_line: Collection[FlowID] = (),
    ) -> Iterable[FlowID]:
        """Flows holding work of dead instances, or quiet for longer than a lease with none open
        (a flow whose items wait in a live instance's line for a slot is not quiet).

        A flow just resumed or retried is one too: the work it held before it was paused
        or ended may belong to an instance that died meanwhile.
        """
        stale = now - timedelta(seconds=ttl)
        resumed, self.resumed = self.resumed, set()
        for flow_id, last in list(self.activity.items()):
            owners = self.owners.get(flow_id, {})
            quiet = not owners and last < stale and flow_id not in in_line
            if (
                quiet
                or flow_id in resumed
                or any(is_dead(owner, me, live) for owner in owners.values())
            ):
                yield flow_id
