"""The dashboard's state: a ``param`` model folded from engine events with the core appliers.

The model never imports Panel. Events go in through ``apply`` (cheap, no
watcher fires); ``flush`` then publishes everything that changed in one
``param.update`` and bumps ``version``. Whoever feeds the model decides how
often to flush (``argyll.ui.feed`` does it at most ten times a second), so a
busy engine costs the page a bounded number of redraws.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

import param

from argyll.apply import CATALOG_APPLIERS, FLOW_APPLIERS, fold, fold_flow
from argyll.errors import ArgyllError
from argyll.events import CATALOG, FLOW_PREFIX, Event, FlowStarted
from argyll.flow_index import INDEXED_TYPES, summarize
from argyll.model import (
    Catalog,
    FlowID,
    FlowState,
    FlowStatus,
    FlowSummary,
    Plan,
    Step,
    StepID,
)
from argyll.planner import plan as make_plan
from argyll.ui.progress import FlowProgress, advance, fold_progress

CONNECTION_STATES = ("live", "reconnecting", "lost")
"""The feed's states: following the engine, trying again after losing it, still
trying after long enough that the page must not look live."""
MAX_RECENT = 200
MAX_FLOWS = 2000
"""The most flow rows a page keeps (the newest); older ones are dropped, not counted less."""
FLOW_PAGE = 200
"""Flows the page reads from the store when it opens, and again each time older ones are
asked for (``older_wanted``): the store's counts say how many there are in all."""
BACKFILL = 100
"""How many of the flows listed when the page opens get their progress read back."""

PLACEHOLDER = re.compile(r"<(?P<name>[^<>:]+): (?P<type>[a-z]+)>")
"""A value the plan preview pre-fills for a required input: ``"<quantity: number>"``."""


class StepRole(StrEnum):
    """How a step sits in the catalog, as the graph colours it."""

    RESOLVER = "resolver"
    PROCESSOR = "processor"
    COLLECTOR = "collector"


def step_role(catalog: Catalog, step: Step) -> StepRole:
    """Resolver: no required inputs; collector: nothing consumes its outputs; else processor."""
    if not step.required_inputs:
        return StepRole.RESOLVER
    if not any(catalog.consumers.get(name) for name in step.outputs):
        return StepRole.COLLECTOR
    return StepRole.PROCESSOR


def flow_id_of(event: Event) -> FlowID | None:
    if event.aggregate.startswith(FLOW_PREFIX):
        return FlowID(event.aggregate[len(FLOW_PREFIX) :])
    return None


def init_template(catalog: Catalog, required: Iterable[str], init: Mapping[str, Any]) -> dict:
    """``init`` plus a marked placeholder for each required input it lacks.

    A typed default (``0``, ``""``) would run: a flow started with it looks like
    a success while its predicates skip every goal. A placeholder cannot.
    """
    out = dict(init)
    for name in required:
        if name not in out:
            out[name] = f"<{name}: {catalog.attribute_type(name)[0].value}>"
    return out


def placeholders_in(init: Mapping[str, Any]) -> list[str]:
    """The inputs of ``init`` still holding their placeholder."""
    return [
        name
        for name, value in init.items()
        if isinstance(value, str) and (m := PLACEHOLDER.fullmatch(value)) and m["name"] == name
    ]


# ------------------------------------------------------------------ timeline


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar of the flow timeline: a step's run, one attempt of a work item, or a backoff."""

    lane: str
    step_id: str
    kind: str
    status: str
    start: datetime
    end: datetime | None
    label: str = ""


class _Gantt:
    """Builds timeline bars event by event; a bar stays open until its ending event."""

    def __init__(self) -> None:
        self.bars: list[Bar] = []
        self._open: dict[tuple[str, str], int] = {}
        self._items: dict[str, dict[str, int]] = {}
        self._reused: dict[str, str] = {}
        """step id -> its label when one of its items was a memo hit, naming the flow."""

    def lane(self, step_id: str, token: str) -> str:
        numbers = self._items.setdefault(step_id, {})
        return f"{step_id} · item {numbers.setdefault(token, len(numbers) + 1)}"

    def open(self, key: tuple[str, str], bar: Bar) -> None:
        self._open[key] = len(self.bars)
        self.bars.append(bar)

    def close(self, key: tuple[str, str], status: str, end: datetime, label: str = "") -> None:
        index = self._open.pop(key, None)
        if index is not None:
            bar = self.bars[index]
            self.bars[index] = replace(bar, status=status, end=end, label=label or bar.label)

    def add(self, event: Event) -> None:
        data, when = event.data, event.timestamp
        step_id, token = getattr(data, "step_id", ""), getattr(data, "token", "")
        step_key, wait_key = (step_id, ""), (step_id, token + "/wait")
        match event.type:
            case "step_started":
                self.open(step_key, Bar(step_id, step_id, "step", "active", when, None))
            case "step_completed" | "step_failed" | "step_skipped":
                if step_key not in self._open:
                    self.open(step_key, Bar(step_id, step_id, "step", "active", when, None))
                why = getattr(data, "error", "") or getattr(data, "reason", "")
                why = why or self._reused.get(step_id, "")
                self.close(step_key, event.type.removeprefix("step_"), when, why)
            case "work_started":
                self.close(wait_key, "waited", when)
                label = f"attempt {getattr(data, 'retry_count', 0) + 1}"
                bar = Bar(
                    self.lane(step_id, token), step_id, "attempt", "active", when, None, label
                )
                self.open((step_id, token), bar)
            case "work_succeeded" | "work_failed" | "work_not_completed":
                error = getattr(data, "error", "")
                memo = getattr(data, "memo", None)
                if memo is not None:
                    error = self._reused[step_id] = f"memo hit of flow {memo.flow_id}"
                self.close((step_id, token), event.type.removeprefix("work_"), when, error)
            case "work_retry_scheduled":
                label = f"retry {getattr(data, 'retry_count', 0)} due"
                bar = Bar(
                    self.lane(step_id, token), step_id, "backoff", "waiting", when, None, label
                )
                self.open(wait_key, bar)
            case _ if event.type.startswith("comp_"):
                self._compensation(event, step_id, token)

    def _compensation(self, event: Event, step_id: str, token: str) -> None:
        """An item's undoing, in its lane: each call, and the backoff before a retry."""
        data, when = event.data, event.timestamp
        key, wait_key = (step_id, token + "/undo"), (step_id, token + "/undo-wait")
        lane = self.lane(step_id, token)
        match event.type:
            case "comp_started":
                self.close(wait_key, "waited", when)
                self.close(key, "compensating", when)
                self.open(
                    key, Bar(lane, step_id, "compensation", "compensating", when, None, "undo")
                )
            case "comp_succeeded":
                self.close(key, "compensated", when)
            case "comp_failed":
                self.close(key, "compensation_failed", when, getattr(data, "error", ""))
            case "comp_retry_scheduled":
                self.close(key, "not_completed", when, getattr(data, "error", ""))
                label = f"undo retry {getattr(data, 'retry_count', 0)} due"
                self.open(wait_key, Bar(lane, step_id, "backoff", "waiting", when, None, label))


def timeline(events: Sequence[Event]) -> list[Bar]:
    """The Gantt bars of a flow: a lane per step, and one per work item under it.

    A step that ran one work item once gets no item lane (its own bar says it
    all); fan-out and retries do, so every attempt and backoff is visible.
    """
    gantt = _Gantt()
    for event in events:
        gantt.add(event)
    work = [bar for bar in gantt.bars if bar.kind != "step"]
    busy = {
        step
        for step in {bar.step_id for bar in work}
        if sum(bar.step_id == step for bar in work) > 1
    }
    order = {step: i for i, step in enumerate(dict.fromkeys(b.step_id for b in gantt.bars))}
    kept = [bar for bar in gantt.bars if bar.kind == "step" or bar.step_id in busy]
    return sorted(kept, key=lambda bar: (order[bar.step_id], bar.lane != bar.step_id, bar.lane))


# --------------------------------------------------------------------- model


def _value_text(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def event_row(event: Event) -> dict[str, Any]:
    data = event.data.to_dict()
    data.pop("flow_id", None)
    if event.type == FlowStarted.type:
        data = {"goals": data["plan"]["goals"], "init": data["init"]}
    return {
        "seq": event.seq,
        "type": event.type,
        "time": event.timestamp,
        "data": _value_text(data, 400),
    }


class DashboardModel(param.Parameterized):
    """What the dashboard shows; views watch these parameters, the feed fills them."""

    catalog = param.ClassSelector(class_=Catalog, instantiate=False, doc="Steps and health.")
    flows = param.List(default=[], doc="Flow summaries, newest first.")
    counts = param.Dict(default={}, doc="Number of flows per status, in the whole store.")
    older = param.String(
        default=None, allow_None=True, doc="The cursor of the store's next older flows, if any."
    )
    older_wanted = param.Event(doc="Read the next page of older flows (the feed does).")
    selected_flow = param.String(default="", doc="The flow the detail views follow.")
    flow = param.ClassSelector(class_=FlowState, default=None, allow_None=True)
    flow_events = param.List(default=[], doc="Every event of the selected flow, in order.")
    flow_missing = param.Boolean(
        default=False, doc="The engine has no selected flow (a stale link)."
    )
    selected_step = param.String(default="", doc="The step last clicked in the graph.")
    goals = param.List(default=[], doc="Goals of the plan preview.")
    init = param.Dict(default={}, doc="Init state of the plan preview.")
    plan = param.ClassSelector(class_=Plan, default=None, allow_None=True)
    required = param.List(default=[], doc="Inputs the goals need from init, whatever it holds.")
    plan_error = param.String(default="")
    recent = param.List(default=[], doc="The newest events of the whole engine, newest first.")
    progress = param.Dict(default={}, doc="Per flow whose start was seen or read, its progress.")
    skipped_goals = param.Dict(default={}, doc="Per flow with a skipped goal, its GoalSkips.")
    version = param.Integer(default=0, doc="Bumped once per flush that changed something.")
    connection = param.Selector(
        objects=list(CONNECTION_STATES), default="live", doc="Whether the engine's feed is up."
    )

    def __init__(self, **params: Any) -> None:
        params.setdefault("catalog", Catalog())
        super().__init__(**params)
        self._catalog: Catalog = self.catalog
        self._summaries: dict[FlowID, FlowSummary] = {}
        self._counts = dict.fromkeys(FlowStatus, 0)
        self._older: str | None = None
        self.counts_stale = False
        """An event moved a flow the page does not list: the counts must be read again."""
        self._progress: dict[FlowID, FlowProgress] = {}
        self._unknown: dict[FlowID, None] = {}
        self._flow: FlowState | None = None
        self._flow_events: list[Event] = []
        self._recent: deque[Event] = deque(maxlen=MAX_RECENT)
        self._dirty: set[str] = set()
        self._connection = self.connection
        self.stale_flow = False

    # ------------------------------------------------------------- feeding

    def load(
        self,
        catalog: Catalog,
        flows: Iterable[FlowSummary],
        counts: Mapping[FlowStatus, int] | None = None,
        older: str | None = None,
    ) -> None:
        """Start from a snapshot: the catalog, the newest flows, the store's counts and the
        cursor of older flows; events already in it may be applied again harmlessly."""
        self._catalog = catalog
        self._summaries = {summary.id: summary for summary in flows}
        if counts is not None:
            self.load_counts(counts)
        self._older = older
        newest = sorted(self._summaries.values(), key=_newest_first, reverse=True)[:BACKFILL]
        for summary in newest:
            if summary.id not in self._progress:
                self._unknown[summary.id] = None
        self._dirty |= {"catalog", "flows", "older"}

    def load_older(self, flows: Iterable[FlowSummary], older: str | None) -> None:
        """A page of older flows from the store (rows the feed already has win), and the
        cursor of the page after it."""
        for summary in flows:
            self._summaries.setdefault(summary.id, summary)
        self._older = older
        self._dirty |= {"flows", "older"}

    def load_counts(self, counts: Mapping[FlowStatus, int]) -> None:
        """How many flows the store holds in each status, read just now."""
        self._counts = {status: counts.get(status, 0) for status in FlowStatus}
        self.counts_stale = False
        self._dirty.add("flows")

    def connected(self, state: str) -> None:
        """Note the feed's connection state (one of ``CONNECTION_STATES``) for the next flush."""
        if state != self._connection:
            self._connection = state
            self._dirty.add("connection")

    def apply(self, event: Event) -> None:
        """Fold one event of the engine's feed into the pending state (no watcher fires)."""
        self._recent.appendleft(event)
        self._dirty.add("recent")
        if event.aggregate == CATALOG:
            self._apply_catalog(event)
            return
        flow_id = flow_id_of(event)
        if flow_id is None:
            return
        if event.type in INDEXED_TYPES:
            self._apply_summary(flow_id, event)
        self._advance(flow_id, event)
        if flow_id == self.selected_flow:
            self._apply_flow(event)

    def load_flow(self, flow_id: str, events: Sequence[Event]) -> None:
        """The selected flow's past events (none: the engine has no such flow); ignored if
        the selection moved on meanwhile."""
        if flow_id != self.selected_flow:
            return
        if not events:
            if self._flow is None:
                self._dirty.add("flow_missing")
            return
        self._flow = fold_flow(events)
        self._flow_events = list(events)
        self.stale_flow = False
        self._dirty |= {"flow", "flow_events"}
        self.load_progress(FlowID(flow_id), events)

    def load_progress(self, flow_id: FlowID, events: Sequence[Event]) -> None:
        """A flow's progress from its past events, unless the feed has already gone further."""
        progress = fold_progress(events)
        current = self._progress.get(flow_id)
        if progress is not None and (current is None or progress.version >= current.version):
            self._progress[flow_id] = progress
            self._dirty.add("flows")

    def want_progress(self, flow_id: FlowID) -> None:
        """Read the flow's progress back (``next_unknown``) unless the model has it."""
        if flow_id not in self._progress:
            self._unknown[flow_id] = None

    @property
    def progress_unknown(self) -> bool:
        """Whether a listed flow's progress is waiting to be read back."""
        return bool(self._unknown)

    def next_unknown(self) -> FlowID | None:
        """The next listed flow whose progress must be read back (newest first), if any."""
        while self._unknown:
            flow_id = next(iter(self._unknown))
            del self._unknown[flow_id]
            if flow_id in self._summaries:
                return flow_id
        return None

    @property
    def pending(self) -> bool:
        return bool(self._dirty)

    def flush(self) -> bool:
        """Publish what changed since the last flush in one update; False if nothing did."""
        if not self._dirty:
            return False
        dirty, self._dirty = self._dirty, set()
        changes: dict[str, Any] = {"version": self.version + 1}
        if "catalog" in dirty:
            changes["catalog"] = self._catalog
        if "flows" in dirty:
            changes["flows"], changes["counts"] = self._flow_list()
            changes["progress"] = dict(self._progress)
            changes["skipped_goals"] = {
                flow_id: skips
                for flow_id, progress in self._progress.items()
                if (skips := progress.skips) is not None
            }
        if "flow" in dirty:
            changes["flow"] = self._flow
        if "flow" in dirty or "flow_missing" in dirty:
            changes["flow_missing"] = self._flow is None and "flow_missing" in dirty
        if "flow_events" in dirty:
            changes["flow_events"] = list(self._flow_events)
        if "recent" in dirty:
            changes["recent"] = list(self._recent)
        if "connection" in dirty:
            changes["connection"] = self._connection
        if "older" in dirty:
            changes["older"] = self._older
        self.param.update(changes)
        return True

    def _apply_catalog(self, event: Event) -> None:
        if event.seq <= self._catalog.version:
            return
        self._catalog = fold(self._catalog, [event], CATALOG_APPLIERS)
        self._dirty.add("catalog")

    def _apply_summary(self, flow_id: FlowID, event: Event) -> None:
        """The flow's row, and the counts it moves; a flow the page does not list moves
        counts the page cannot tell (it was never read), so they are read again."""
        old = self._summaries.get(flow_id)
        summary = summarize(old, event)
        if summary is None:
            self.counts_stale = True
            return
        self._summaries[flow_id] = summary
        self._counts[summary.status] += 1
        if old is not None:
            self._counts[old.status] -= 1
        self._dirty.add("flows")

    def _advance(self, flow_id: FlowID, event: Event) -> None:
        """Fold the event into the flow's progress; a listed flow with a gap is read back."""
        current = self._progress.get(flow_id)
        if event.type != FlowStarted.type and (current is None or event.seq > current.version + 1):
            if flow_id in self._summaries:
                self._unknown[flow_id] = None
            return
        progress = advance(current, event)
        if progress is None or progress is current:
            return
        self._progress[flow_id] = progress
        if current is None or replace(current, version=progress.version) != progress:
            self._dirty.add("flows")

    def _apply_flow(self, event: Event) -> None:
        """Fold the selected flow's next event; a gap marks it stale for the feed to reload."""
        current = self._flow
        if event.type == FlowStarted.type and current is None:
            self._flow = fold_flow([event])
        elif current is None or event.seq > current.version + 1:
            self.stale_flow = True
            return
        elif event.seq <= current.version:
            return
        else:
            self._flow = fold(current, [event], FLOW_APPLIERS)
        self._flow_events.append(event)
        self._dirty |= {"flow", "flow_events"}

    def _flow_list(self) -> tuple[list[FlowSummary], dict[str, int]]:
        newest = sorted(self._summaries.values(), key=_newest_first, reverse=True)
        if len(newest) > MAX_FLOWS:
            newest = newest[:MAX_FLOWS]
            self._summaries = {summary.id: summary for summary in newest}
            self._progress = {k: v for k, v in self._progress.items() if k in self._summaries}
        counts = {status.value: max(count, 0) for status, count in self._counts.items()}
        return newest, counts

    # ------------------------------------------------------------ selection

    @param.depends("selected_flow", watch=True)
    def _forget_flow(self) -> None:
        self._flow, self._flow_events = None, []
        self.stale_flow = bool(self.selected_flow)
        self._dirty -= {"flow", "flow_events", "flow_missing"}
        self.param.update(flow=None, flow_events=[], flow_missing=False)

    @param.depends("goals", "init", "catalog", watch=True, on_init=True)
    def _replan(self) -> None:
        if not self.goals:
            self.param.update(plan=None, required=[], plan_error="")
            return
        try:
            preview = make_plan(self.catalog, self.goals, self.init)
            bare = make_plan(self.catalog, self.goals, {}) if self.init else preview
        except ArgyllError as exc:
            self.param.update(plan=None, required=[], plan_error=str(exc))
            return
        self.param.update(plan=preview, required=list(bare.required), plan_error="")

    def select_step(self, step_id: str | None) -> None:
        """A click on a step card (None: on the background); clicking it again unselects it.

        The clicked step is the one whose execution the followed flow shows and
        the goal of the plan preview, so starting it is one click away.
        """
        if step_id and step_id != self.selected_step:
            self.param.update(selected_step=step_id, goals=[step_id])
        else:
            self.param.update(selected_step="", goals=[])

    def focus(self) -> tuple[set[StepID] | None, dict[StepID, str]]:
        """The steps to stand out (None: all) and, in a selected flow, each one's status."""
        if self.selected_flow:
            if self.flow is None:
                return set(), {}
            executions = self.flow.executions
            return set(executions), {sid: ex.status.value for sid, ex in executions.items()}
        if self.plan is not None:
            return set(self.plan.steps), {}
        return None, {}


def _newest_first(summary: FlowSummary) -> tuple[datetime, str]:
    return summary.created_at, summary.id
