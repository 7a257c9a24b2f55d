"""What the flows table knows of a flow beyond its index row, and which rows a search keeps.

A ``FlowProgress`` is folded from the flow's events (as they stream in, or its
past events read back once): its goals, how many of its planned steps have
ended, the root cause of a failure (the first step that failed, and why) and
the reasons its goals were skipped. Pure: no Panel, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from types import MappingProxyType

from argyll.events import Event, FlowStarted, StepCompleted, StepFailed, StepSkipped
from argyll.model import FlowSummary, StepID

STARTED_WITHIN: Mapping[str, timedelta | None] = MappingProxyType(
    {
        "any time": None,
        "last 5 minutes": timedelta(minutes=5),
        "last hour": timedelta(hours=1),
        "last 24 hours": timedelta(days=1),
        "last 7 days": timedelta(days=7),
    }
)
"""The start-time filter's choices: how far back a flow may have started."""


@dataclass(frozen=True, slots=True)
class GoalSkips:
    """A flow's goals and, for those skipped, why: a flow whose goals were all skipped
    completed without doing what was asked."""

    goals: tuple[StepID, ...]
    reasons: Mapping[StepID, str]

    @property
    def every_goal(self) -> bool:
        return set(self.goals) <= set(self.reasons)


@dataclass(frozen=True, slots=True)
class RootCause:
    """The first step of a flow that failed, and its error: what made the flow fail."""

    step_id: StepID
    error: str

    def text(self) -> str:
        return f"{self.step_id}: {self.error}"


@dataclass(frozen=True, slots=True)
class FlowProgress:
    """A flow's goals, its ended and planned steps, its root cause; ``version`` is its last seq."""

    goals: tuple[StepID, ...]
    planned: int
    ended: frozenset[StepID] = frozenset()
    root_cause: RootCause | None = None
    skipped_goals: Mapping[StepID, str] = field(default_factory=dict)
    version: int = 0

    @property
    def skips(self) -> GoalSkips | None:
        """Why goals were skipped, or None when none was."""
        return GoalSkips(self.goals, self.skipped_goals) if self.skipped_goals else None

    def text(self) -> str:
        """``steps ended / planned``."""
        return f"{len(self.ended)} / {self.planned}"


def advance(progress: FlowProgress | None, event: Event) -> FlowProgress | None:
    """The flow's progress after its next event; None until its start has been seen.

    An event at or before ``version`` changes nothing, so a repeated event
    (a snapshot and the live feed overlap) counts once.
    """
    data = event.data
    if progress is not None and event.seq <= progress.version:
        return progress
    if isinstance(data, FlowStarted):
        return FlowProgress(data.plan.goals, len(data.plan.steps), version=event.seq)
    if progress is None:
        return None
    progress = replace(progress, version=event.seq)
    if not isinstance(data, StepCompleted | StepFailed | StepSkipped):
        return progress
    progress = replace(progress, ended=progress.ended | {data.step_id})
    if isinstance(data, StepFailed) and progress.root_cause is None:
        return replace(progress, root_cause=RootCause(data.step_id, data.error))
    if isinstance(data, StepSkipped) and data.step_id in progress.goals:
        skipped = {**progress.skipped_goals, data.step_id: data.reason}
        return replace(progress, skipped_goals=skipped)
    return progress


def fold_progress(events: Iterable[Event]) -> FlowProgress | None:
    """The progress of a flow from its events in order (None if its start is not among them)."""
    progress: FlowProgress | None = None
    for event in events:
        progress = advance(progress, event)
    return progress


@dataclass(frozen=True, slots=True)
class FlowFilter:
    """Which rows the flows table keeps: a search text, a status, an earliest start.

    The text matches a flow's id or one of its goals, ignoring case; goals are
    known once the flow's progress is.
    """

    text: str = ""
    status: str = "all"
    since: datetime | None = None

    def keeps(self, summary: FlowSummary, progress: FlowProgress | None) -> bool:
        if self.status != "all" and summary.status.value != self.status:
            return False
        if self.since is not None and summary.created_at < self.since:
            return False
        return self._matches(summary, progress)

    def _matches(self, summary: FlowSummary, progress: FlowProgress | None) -> bool:
        needle = self.text.strip().lower()
        if not needle:
            return True
        goals = progress.goals if progress is not None else ()
        return any(needle in text.lower() for text in (summary.id, *goals))


EVERY_FLOW = FlowFilter()
"""The filter that keeps every row."""


def since_of(window: str, now: datetime) -> datetime | None:
    """The earliest start a ``STARTED_WITHIN`` choice keeps, seen at ``now``."""
    span = STARTED_WITHIN.get(window)
    return now - span if span is not None else None
