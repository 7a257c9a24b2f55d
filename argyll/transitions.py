"""Status transitions: the moves docs/concepts.md allows flows, steps and work items, as tables.

Each table maps a status to the statuses it may move to; the row ``None`` is the
entity's creation (a flow opens active, a step and a work item pending). The
appliers check every status change an event makes against these tables (an
illegal move raises ``transition_error``), so a history that breaks the rules
cannot fold into a state, and the deciders ask ``can_transition`` whether a
result can still be taken. An event is checked only for the entity it moves: a
retry scheduled or an attribute set moves nothing, and work recorded after its
flow ended moves its item and step, never the flow. Operating a flow (pause,
resume, cancel, retry, a step completed or skipped by hand) adds its rows and moves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from argyll.errors import TransitionError
from argyll.model import FlowStatus, StepStatus, WorkStatus

S = TypeVar("S", bound=StrEnum)


@dataclass(frozen=True, slots=True)
class Transitions(Generic[S]):
    """The legal moves of one kind of entity: ``moves[source]`` holds every allowed target."""

    entity: str
    moves: Mapping[S | None, frozenset[S]]


FLOW_TRANSITIONS: Transitions[FlowStatus] = Transitions(
    "flow",
    {
        None: frozenset({FlowStatus.ACTIVE}),
        # every goal completed or skipped; a goal failed or the deadline passed; by hand
        FlowStatus.ACTIVE: frozenset(
            {FlowStatus.COMPLETED, FlowStatus.FAILED, FlowStatus.PAUSED, FlowStatus.CANCELED}
        ),
        # resumed; the deadline passed; canceled (a paused flow only ends by these)
        FlowStatus.PAUSED: frozenset({FlowStatus.ACTIVE, FlowStatus.FAILED, FlowStatus.CANCELED}),
        FlowStatus.COMPLETED: frozenset(),
        # retried
        FlowStatus.FAILED: frozenset({FlowStatus.ACTIVE}),
        FlowStatus.CANCELED: frozenset({FlowStatus.ACTIVE}),
    },
)

STEP_TRANSITIONS: Transitions[StepStatus] = Transitions(
    "step",
    {
        None: frozenset({StepStatus.PENDING}),
        # started; predicate false, a required input not produced, skipped by hand or by a
        # cancel; predicate error, a required input whose provider failed, or a for_each
        # input that is no array; completed by hand
        StepStatus.PENDING: frozenset(
            {StepStatus.ACTIVE, StepStatus.SKIPPED, StepStatus.FAILED, StepStatus.COMPLETED}
        ),
        # every work item succeeded or completed by hand; one failed (also after the flow
        # ended: late work); skipped by hand or by a cancel
        StepStatus.ACTIVE: frozenset({StepStatus.COMPLETED, StepStatus.FAILED, StepStatus.SKIPPED}),
        StepStatus.COMPLETED: frozenset(),
        # a retry runs it again
        StepStatus.SKIPPED: frozenset({StepStatus.PENDING}),
        StepStatus.FAILED: frozenset({StepStatus.PENDING}),
    },
)

WORK_TRANSITIONS: Transitions[WorkStatus] = Transitions(
    "work item",
    {
        None: frozenset({WorkStatus.PENDING}),
        WorkStatus.PENDING: frozenset({WorkStatus.ACTIVE}),
        # active again: a dead instance's work claimed and re-dispatched under its token
        WorkStatus.ACTIVE: frozenset(
            {
                WorkStatus.ACTIVE,
                WorkStatus.SUCCEEDED,
                WorkStatus.FAILED,
                WorkStatus.NOT_COMPLETED,
            }
        ),
        # retried under the same token; the attempt's late result; retries given up
        WorkStatus.NOT_COMPLETED: frozenset(
            {WorkStatus.ACTIVE, WorkStatus.SUCCEEDED, WorkStatus.FAILED}
        ),
        # undone when its flow fails or is canceled (a step with http.compensate)
        WorkStatus.SUCCEEDED: frozenset({WorkStatus.COMPENSATING}),
        WorkStatus.FAILED: frozenset(),
        # again: a retry of the compensation, or a dead instance's taken over
        WorkStatus.COMPENSATING: frozenset(
            {WorkStatus.COMPENSATING, WorkStatus.COMPENSATED, WorkStatus.COMPENSATION_FAILED}
        ),
        WorkStatus.COMPENSATED: frozenset(),
        WorkStatus.COMPENSATION_FAILED: frozenset(),
    },
)


def can_transition(table: Transitions[S], source: S | None, target: S) -> bool:
    """Whether ``table`` lets an entity in ``source`` (``None``: not created) go to ``target``.

    The appliers write this membership test out, as it runs for every event folded.
    """
    return target in table.moves[source]


def transition_error(
    table: Transitions[S], source: S | None, target: S, aggregate: str, *ident: str
) -> TransitionError:
    """The error for a move ``table`` forbids; ``ident`` names the entity within ``aggregate``."""
    entity = f"{table.entity} {'/'.join(ident)}" if ident else table.entity
    return TransitionError(aggregate, entity, source, target)
