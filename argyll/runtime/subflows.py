"""Running sub-flows: a flow step's work item starts its child flow and waits for its end.

The rules are ``argyll.subflow``'s; this is where they meet the engine. An item's
attempt starts the child (a start that finds the child already there, after a
restart or a takeover re-dispatched the item, starts nothing) and waits for it to
end, however long that takes and whichever instance runs it; the end is then the
item's result, recorded like an HTTP step's answer. A child that had already ended
when the item was re-dispatched gives its result at once.

A decision that failed or canceled a parent cancels the children it had running
(through the store, so whichever instance runs a child stops it). At start-up the
engine also cancels the children whose parent failed or was canceled while no
engine was there to do it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from argyll import subflow
from argyll.decide import Decision, Failed, NotCompleted, Outcome, RunWork
from argyll.errors import ConflictError, NotFoundError, StoreError, ValidationError
from argyll.events import ANONYMOUS
from argyll.model import FlowID, FlowState
from argyll.runtime.tasks import BackgroundTasks

log = logging.getLogger("argyll.engine")

Load = Callable[[FlowID], Awaitable[FlowState]]
Start = Callable[[subflow.ChildFlow], Awaitable[None]]
Cancel = Callable[[FlowID, str, str], Awaitable[Any]]
"""Cancel a flow: (flow id, reason, actor)."""


class SubflowRunner:
    """Starts child flows for flow steps' work items, and cancels them with their parent."""

    def __init__(
        self, load: Load, start: Start, wait: Load, cancel: Cancel, tasks: BackgroundTasks
    ) -> None:
        self._load, self._start, self._wait, self._cancel = load, start, wait, cancel
        self._tasks = tasks

    async def run(self, work: RunWork) -> Outcome:
        """One attempt of a flow step's item: start (or find) its child, then its end.

        A store that cannot be reached makes the attempt not completed (retried with the
        same token, so the same child); a child that cannot start fails the item.
        """
        try:
            child = subflow.child_flow(await self._load(work.flow_id), work)
            if isinstance(child, Failed):
                return child
            await self._start(child)
            await self._stop_if_parent_stopped(child)
            ended = await self._wait(child.flow_id)
        except (ValidationError, ConflictError) as exc:
            return Failed(f"child flow not started: {exc}")
        except StoreError as exc:
            return NotCompleted(f"child flow unreachable: {exc}")
        outcome = subflow.child_outcome(work.step, ended)
        if outcome is None:  # wait only answers once the flow has ended
            return NotCompleted(f"child flow {child.flow_id!r} has not ended")
        return outcome

    def stop_children(self, decision: Decision) -> None:
        """Cancel the children a decision left without a parent that waits for them."""
        stop = subflow.children_to_stop(decision)
        if stop is not None:
            for child in stop.children:
                self._tasks.spawn(self._stop(child, stop.reason, stop.actor))

    async def cancel_orphans(self, flows: Iterable[FlowState]) -> None:
        """Cancel each running child whose parent failed or was canceled meanwhile."""
        for child in subflow.children(flows):
            assert child.parent is not None  # noqa: S101 — narrows the type: children have one
            try:
                parent = await self._load(child.parent.flow_id)
            except NotFoundError:
                continue
            if subflow.orphaned(child, parent):
                await self._stop(child.id, subflow.stop_reason(parent), ANONYMOUS)

    async def _stop_if_parent_stopped(self, child: subflow.ChildFlow) -> None:
        """A parent that ended while its child was starting found no child to cancel then."""
        parent = await self._load(child.parent.flow_id)
        if subflow.stops_children(parent):
            await self._stop(child.flow_id, subflow.stop_reason(parent), ANONYMOUS)

    async def _stop(self, child: FlowID, reason: str, actor: str) -> None:
        try:
            await self._cancel(child, reason, actor)
        except (ConflictError, NotFoundError):
            return  # it ended meanwhile, or its start never made it to the store
        except StoreError as exc:
            log.warning("child flow not canceled: %s", exc, extra={"flow_id": child})
