"""Sub-flows at run time: a ``type: "flow"`` step's work item is a child flow.

Each work item of a flow step starts one child flow, whose id follows from the
parent flow, the step and the item's token (so a re-dispatched item, after a
restart or a takeover, finds the child it started instead of starting a second).
The child runs the plan planned with the parent (``Plan.children``), from the
item's inputs: those are the child's init, under the names the child knows
(the inner names, which the mapping rules give the item's inputs). When the child
ends, its attributes are the item's outputs (read under the outputs' inner names),
its error the item's error.

A parent that fails or is canceled cancels the children still running; a child
whose parent failed or was canceled while no engine could cancel it is canceled
when an engine starts and finds it (``orphaned``). Pausing a parent leaves its
children running: a child's end is recorded in the paused parent and settles its
flow step, and nothing that needs it starts before the resume.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from argyll.decide import Decision, Failed, Outcome, RunWork, Succeeded
from argyll.events import ANONYMOUS, FlowCanceled, FlowFailed
from argyll.model import (
    FlowID,
    FlowState,
    FlowStatus,
    ParentRef,
    Plan,
    Step,
    StepID,
    StepType,
    Token,
    WorkStatus,
)

CHILD_CANCELED = "child flow canceled"
CHILD_FAILED = "child flow failed"
"""The item's error when a failed child gives none of its own."""
_STOPPING = (FlowCanceled, FlowFailed)
_OPEN = frozenset({WorkStatus.ACTIVE, WorkStatus.NOT_COMPLETED})
"""Items that may have a child running: started, or waiting to try the start again."""


@dataclass(frozen=True, slots=True)
class ChildFlow:
    """What one work item of a flow step starts: the child's id, plan, init and parent."""

    flow_id: FlowID
    plan: Plan
    init: Mapping[str, Any]
    parent: ParentRef


def child_flow_id(parent: FlowID, step_id: StepID, token: Token) -> FlowID:
    """The child's id: readable as ``parent.step.…``, the same for the same item.

    The last part is a digest of the three (not the token itself: a child id is shown
    wherever flows are listed, a receipt token only to those who read the parent).
    """
    digest = hashlib.sha256(f"{parent}\0{step_id}\0{token}".encode()).hexdigest()[:16]
    return FlowID(f"{parent}.{step_id}.{digest}")


def child_flow(parent: FlowState, work: RunWork) -> ChildFlow | Failed:
    """The child a flow step's work item starts, or why it cannot start one."""
    plan = parent.plan.children.get(work.step.id)
    if plan is None:
        return Failed(f"sub-flow step {work.step.id!r} has no child plan")
    ref = ParentRef(parent.id, work.step.id, work.token)
    return ChildFlow(child_flow_id(parent.id, work.step.id, work.token), plan, work.inputs, ref)


def child_outcome(step: Step, child: FlowState) -> Outcome | None:
    """The work item's result once its child has ended (None while it runs).

    Completed: every attribute of the child, by the child's names (the outputs' inner
    names); an output the child did not produce fails the item. Failed: the child's
    error. Canceled: the item fails, saying so.
    """
    match child.status:
        case FlowStatus.COMPLETED:
            values = {name: attr.value for name, attr in child.attributes.items()}
            missing = [inner for inner in _inner_outputs(step) if inner not in values]
            if missing:
                return Failed(f"child flow {child.id!r} did not produce {missing[0]!r}")
            return Succeeded(values)
        case FlowStatus.FAILED:
            return Failed(child.error or CHILD_FAILED)
        case FlowStatus.CANCELED:
            return Failed(CHILD_CANCELED)
    return None


def _inner_outputs(step: Step) -> list[str]:
    return [step.attributes[name].inner_name or name for name in step.outputs]


def open_children(flow: FlowState) -> list[FlowID]:
    """The children the flow's flow steps may have running (items not ended)."""
    return [
        child
        for step_id, step in flow.plan.steps.items()
        if step.type is StepType.FLOW
        for child in step_children(flow, step_id)
    ]


def step_children(flow: FlowState, step_id: StepID) -> list[FlowID]:
    """The children one flow step may have running: one per item that has not ended."""
    return [
        child_flow_id(flow.id, step_id, token)
        for token, item in flow.executions[step_id].work_items.items()
        if item.status in _OPEN
    ]


@dataclass(frozen=True, slots=True)
class StopChildren:
    """Cancel these children, on behalf of ``actor``, saying why."""

    children: tuple[FlowID, ...]
    actor: str
    reason: str


def children_to_stop(decision: Decision) -> StopChildren | None:
    """The children to cancel because this decision failed or canceled their parent.

    A parent's cancel is passed on with its actor; a failure (a timeout included)
    was nobody's call, and is passed on as ``anonymous``'s.
    """
    state = decision.state
    stopping = [e for e in decision.events if isinstance(e, _STOPPING)]
    if state is None or not stopping:
        return None
    found = open_children(state)
    if not found:
        return None
    actor = stopping[0].actor if isinstance(stopping[0], FlowCanceled) else None
    return StopChildren(tuple(found), actor or ANONYMOUS, stop_reason(state))


def stop_reason(parent: FlowState) -> str:
    """Why a child was canceled: its parent failed or was canceled."""
    return f"parent flow {parent.id!r} {parent.status.value}"


def stops_children(parent: FlowState) -> bool:
    """Whether the parent's end cancels its children: it failed or was canceled.

    A parent that completed leaves its children be, as it leaves its other work.
    """
    return parent.status in _STOPPED


def orphaned(child: FlowState, parent: FlowState) -> bool:
    """A running child whose parent failed or was canceled (and so should have canceled it)."""
    return not child.status.ended and stops_children(parent)


_STOPPED = frozenset({FlowStatus.FAILED, FlowStatus.CANCELED})


def children(flows: Iterable[FlowState]) -> list[FlowState]:
    """The child flows among ``flows``."""
    return [flow for flow in flows if flow.parent is not None]
