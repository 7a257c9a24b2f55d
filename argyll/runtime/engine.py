"""The Engine: the Python API over the pure core, an event store and the work it runs.

Every change goes the same way: fold the current state, ask a decider, append
its events with the version that was read (optimistic; a stale writer re-reads
and decides again), cache the new state, then perform the decided effects.

This module is that loop and the public API; the engine's other concerns each have
their own module beside it: ``flows`` (cached states and waiters), ``snapshots``
(long flows read from a snapshot), ``recovery`` (running flows read back in batches
at start-up, and dead instances' flows re-decided), ``dispatch`` (performing the
decided effects, in ``tasks``; concurrency slots in ``slots``), ``follower`` (the
feed: what other writers appended), ``takeover`` (the lease and finding dead
instances' work, over ``leases``), ``catalog`` (the steps registered), ``health``
(store and step probes) and ``metrics`` (the Prometheus series, counted from what
this engine appends). A start's arguments are checked by the core's ``argyll.starts``.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Self

import httpx

from argyll import decide, operate, starts, subflow
from argyll.apply import FLOW_APPLIERS, fold, fold_flow
from argyll.errors import (
    ArgyllError,
    ConflictError,
    NotFoundError,
    StoreError,
    ValidationError,
    VersionConflict,
)
from argyll.events import (
    ANONYMOUS,
    Event,
    EventData,
    FlowStarted,
    flow_aggregate,
)
from argyll.explain import explain
from argyll.flow_query import FlowPage, FlowQuery
from argyll.memo import Memo, memo_entries
from argyll.model import (
    Catalog,
    FlowID,
    FlowStart,
    FlowState,
    FlowStatus,
    FlowSummary,
    Plan,
    Step,
    StepRegistration,
)
from argyll.outbound import ALLOW_ALL, OutboundPolicy
from argyll.planner import PlanCache
from argyll.runtime.catalog import APPEND_ATTEMPTS, CatalogKeeper
from argyll.runtime.clock import Clock, SystemClock
from argyll.runtime.dispatch import Dispatcher, Rule
from argyll.runtime.flows import FlowCache
from argyll.runtime.follower import FeedFollower
from argyll.runtime.health import HealthMonitor, store_health
from argyll.runtime.http import HttpCaller, make_client
from argyll.runtime.leases import OpenWork, new_instance_id
from argyll.runtime.metrics import Metrics
from argyll.runtime.recovery import Recovery, collector_paused
from argyll.runtime.retention import HistorySweeper, RetentionPolicy, SweepReport
from argyll.runtime.scripts import DEFAULT_LIMITS, ScriptLimits, ScriptRunner
from argyll.runtime.snapshots import read_flow, save_snapshot, snapshot_due
from argyll.runtime.subflows import SubflowRunner
from argyll.runtime.takeover import LeaseKeeper
from argyll.runtime.tasks import BackgroundTasks
from argyll.runtime.work import WorkRunner
from argyll.store import EventStore, open_store
from argyll.store.feed import Wanted

log = logging.getLogger("argyll.engine")

Operation = Callable[[FlowState, str, str | None, decide.Context], decide.Decision]
"""An operator's decider: (state, actor, reason, context) -> decision."""

STORE_RETRY_FIRST, STORE_RETRY_MAX = 0.05, 5.0
"""Seconds between attempts to record a result while the store is unreachable."""
# httpx is the API; aiohttp's transport keeps up under concurrency where httpcore's
# pool does not (bench/http_steps.py shows both).
HTTP_LIMITS = httpx.Limits(max_connections=256, max_keepalive_connections=64)


def new_token() -> str:
    """A receipt token: 192 random bits, URL-safe. It alone authorises a webhook."""
    return secrets.token_urlsafe(24)


def new_flow_id() -> str:
    return str(uuid.uuid4())


class Engine:
    """Run Argyll in-process.

    Args:
        store: a store URL (``memory://``, ``sqlite:///path``) or an open ``EventStore``.
        policy: engine-wide defaults (retries) that steps may override.
        clock: where time comes from (tests pass a fake one).
        outbound: where HTTP steps and health checks may call (default: anywhere).
        script_limits: what one script run may spend (Ale steps, Lua instructions, memory).
        retention: remove ended flows' history after this long, archiving it first if asked
            (a sweep when the engine starts and every ``retention.interval`` seconds).
    """

    def __init__(
        self,
        store: str | EventStore = "memory://",
        *,
        policy: decide.Policy | None = None,
        clock: Clock | None = None,
        token_factory: Callable[[], str] = new_token,
        work: WorkRunner | None = None,
        webhook_base_url: str = "http://127.0.0.1:8080",
        health_interval: float = 10.0,
        lease_ttl: float = 5.0,
        heartbeat_interval: float = 1.0,
        instance_id: str | None = None,
        outbound: OutboundPolicy = ALLOW_ALL,
        script_limits: ScriptLimits = DEFAULT_LIMITS,
        retention: RetentionPolicy | None = None,
    ) -> None:
        self._store_spec = store
        self.policy = policy or decide.Policy()
        self.clock = clock or SystemClock()
        self.health_interval = health_interval
        self.lease_ttl, self.heartbeat_interval = lease_ttl, heartbeat_interval
        self.instance_id = instance_id or new_instance_id()
        self._open_work = OpenWork()
        self.metrics = Metrics()
        self._new_token = token_factory
        self._scripts = ScriptRunner(limits=script_limits)
        self.outbound = outbound
        self._http_client = make_client(outbound, HTTP_LIMITS)
        self._http = HttpCaller(self._http_client, webhook_base_url, outbound)
        self._catalog = CatalogKeeper(lambda: self.store, self._timed_append, self.clock, outbound)
        self._plans = PlanCache()
        self._flows = FlowCache()
        self._locks: dict[FlowID, asyncio.Lock] = {}
        self._health = HealthMonitor(self._http, lambda: self.catalog, self._catalog.change)
        self._tasks = BackgroundTasks()
        self._subflows = SubflowRunner(
            self.get_flow, self._start_child, self.wait_flow, self._cancel_child, self._tasks
        )
        self._work = work or WorkRunner(self._scripts, self._http, self._subflows)
        self._dispatch = Dispatcher(
            self._work,
            self.clock,
            self._record,
            self._tasks,
            self.metrics,
            lambda: self.store,
            self.instance_id,
            self._limited_steps,
            lambda: self.store,
        )
        self._recovery = Recovery(
            lambda: self.store,
            self._flows,
            self._cache,
            self._open_work,
            self._dispatch.schedule,
            self.clock,
            self._scripts.test,
            self._trigger,
        )
        self._leases = LeaseKeeper(
            self.instance_id,
            lease_ttl,
            heartbeat_interval,
            self._open_work,
            self.clock,
            self._recovery.take_over,
            self._dispatch.slots,
        )
        self._sweeper = (
            None
            if retention is None
            else HistorySweeper(
                retention, lambda: self.store, self.clock, self.metrics, self._history_removed
            )
        )
        self._feed = FeedFollower(
            self._flows,
            self._open_work,
            self._cache,
            lambda: self.catalog.version,
            self._catalog.refresh,
            self._dispatch.stop,
            self.get_flow,
            self._tasks,
        )
        self._follower: asyncio.Task[None] | None = None
        self._store: EventStore | None = None
        self._started = False

    # ----------------------------------------------------------- lifecycle

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    @property
    def store(self) -> EventStore:
        if self._store is None:
            raise ArgyllError("the engine is not started: use `async with Engine(...)`")
        return self._store

    @property
    def started(self) -> bool:
        """Whether ``start`` has finished (and ``aclose`` not begun): the engine serves."""
        return self._started

    async def start(self) -> None:
        """Open the store, fold the catalog, resume every active flow, follow the feed."""
        spec = self._store_spec
        self._store = await open_store(spec) if isinstance(spec, str) else spec
        await self._leases.renew(self.store)
        head = await self.store.head()
        await self._catalog.load()
        with collector_paused():
            running = await self._recovery.resume()
            following = self._feed.follow(self.store, head)
            self._follower = asyncio.create_task(following, name="argyll-follow")
            await self._subflows.cancel_orphans(running)
            await self._leases.take_over_orphans(self.store)
        self._tasks.spawn(self._leases.keep_alive(self.store))
        self._tasks.spawn(self._health.watch(self.health_interval))
        if self._sweeper is not None:
            self._tasks.spawn(self._sweeper.run())
        self._started = True

    async def sweep_history(self) -> SweepReport:
        """Remove (archiving first, if asked) the flows that ended before the retention cutoff
        now; the engine also does this every ``retention.interval`` seconds."""
        if self._sweeper is None:
            raise ArgyllError("the engine keeps all history: start it with retention=")
        return await self._sweeper.sweep()

    def _history_removed(self, flow: FlowSummary) -> None:
        self._flows.removed(flow.id)
        self._locks.pop(flow.id, None)

    async def aclose(self) -> None:
        """Stop: no new work starts; work in flight is left for others or a restart to take on."""
        self._started = False
        self._dispatch.close()
        await self._tasks.cancel_all(*([self._follower] if self._follower else []))
        self._scripts.close()
        await self._http_client.aclose()
        if self._store is not None:
            await self._leases.retire(self._store)
        if self._store is not None and isinstance(self._store_spec, str):
            await self._store.aclose()
        self._store = None

    # ------------------------------------------------------------- catalog

    @property
    def catalog(self) -> Catalog:
        """The catalog as this engine last read or changed it."""
        return self._catalog.catalog

    async def register_step(self, definition: Mapping[str, Any] | Step) -> Step:
        """Register a step; the same definition again is a no-op, a different one a conflict."""
        return (await self.submit_step(definition)).step

    async def submit_step(
        self, definition: Mapping[str, Any] | Step, *, actor: str = ANONYMOUS
    ) -> StepRegistration:
        return await self._catalog.submit(definition, actor)

    async def update_step(
        self, step_id: str, definition: Mapping[str, Any] | Step, *, actor: str = ANONYMOUS
    ) -> Step:
        return await self._catalog.update(step_id, definition, actor)

    async def unregister_step(self, step_id: str, *, actor: str = ANONYMOUS) -> None:
        await self._catalog.unregister(step_id, actor)

    def get_step(self, step_id: str) -> Step:
        return self._catalog.get_step(step_id)

    async def store_health(self) -> dict[str, Any]:
        """Whether the store answers, and how fast: ``{status, store, latency_ms, error?}``."""
        return await store_health(self.store)

    async def check_health(self) -> None:
        """Probe every HTTP step that has a health_check once; record only changes."""
        await self._health.check()

    # --------------------------------------------------------------- flows

    def plan(self, goals: Iterable[str], init: Mapping[str, Any] | None = None) -> Plan:
        """The plan a flow with these goals and init would run (nothing is started)."""
        return self._plans.plan(self.catalog, starts.goal_list(goals), init or {})

    async def start_flow(
        self,
        goals: Iterable[str],
        init: Mapping[str, Any] | None = None,
        flow_id: str | None = None,
        *,
        timeout: int | None = None,
        labels: Mapping[str, str] | None = None,
        actor: str = ANONYMOUS,
    ) -> FlowID:
        """Start a flow and return its id; repeating the same request with its id is a no-op.

        ``timeout`` (ms): a flow that has not ended by then fails, saying it timed out.
        ``labels``: names and string values the flow carries, to find it by.
        """
        start = await self.submit_flow(
            goals, init, flow_id, timeout=timeout, labels=labels, actor=actor
        )
        return start.flow_id

    async def submit_flow(
        self,
        goals: Iterable[str],
        init: Mapping[str, Any] | None = None,
        flow_id: str | None = None,
        *,
        timeout: int | None = None,
        labels: Mapping[str, str] | None = None,
        actor: str = ANONYMOUS,
    ) -> FlowStart:
        goal_list, init = starts.goal_list(goals), dict(init or {})
        starts.check_flow_id(flow_id)
        starts.check_timeout(timeout)
        starts.check_labels(labels)
        ident = FlowID(flow_id or new_flow_id())
        plan = await self._fresh_plan(goal_list, init)
        context = self._context()
        decision = decide.on_start(
            ident, plan, init, context, timeout_ms=timeout, labels=labels, actor=actor
        )
        try:
            await self._append(ident, decision, context.now)
        except VersionConflict:
            await self._check_same_start(ident, goal_list, init, dict(labels or {}))
            return FlowStart(ident, created=False)
        self._dispatch.perform(decision)
        return FlowStart(ident, created=True)

    async def _start_child(self, child: subflow.ChildFlow) -> None:
        """Start a flow step's child flow; one already started for the same item is kept."""
        context = self._context()
        decision = decide.on_start(
            child.flow_id, child.plan, child.init, context, parent=child.parent
        )
        try:
            await self._append(child.flow_id, decision, context.now)
        except VersionConflict:
            first = (await self.store.read(flow_aggregate(child.flow_id)))[0].data
            if not isinstance(first, FlowStarted) or first.parent != child.parent:
                raise ConflictError(f"flow {child.flow_id!r} exists, not as this child") from None
            return
        self._dispatch.perform(decision)

    async def _cancel_child(self, flow_id: FlowID, reason: str, actor: str) -> None:
        await self.cancel_flow(flow_id, reason, actor=actor)

    async def _fresh_plan(self, goals: list[str], init: Mapping[str, Any]) -> Plan:
        """The plan; if this engine's catalog cannot make it, again on the store's newest
        (another engine on the store may just have registered the step: a worker of the
        same ``argyll serve``, whose call came before this engine's follower saw it)."""
        try:
            return self._plans.plan(self.catalog, goals, init)
        except ValidationError:
            await self._catalog.refresh()
            return self._plans.plan(self.catalog, goals, init)

    async def _check_same_start(
        self, flow_id: FlowID, goals: list[str], init: dict, labels: dict
    ) -> None:
        first = (await self.store.read(flow_aggregate(flow_id)))[0].data
        assert isinstance(first, FlowStarted)  # noqa: S101 — narrows the type: a flow's first event is its start
        same = (list(first.plan.goals), dict(first.init), dict(first.labels))
        if same != (goals, init, labels):
            raise ConflictError(f"flow {flow_id!r} already exists with a different request")

    async def get_flow(self, flow_id: str) -> FlowState:
        ident = FlowID(flow_id)
        cached = self._flows.get(ident) or self._flows.final(ident)
        if cached is not None:
            return cached
        return await read_flow(self.store, flow_id)

    async def flow_status(self, flow_id: str) -> FlowSummary:
        """The flow's index row (status, times, error), from memory when this engine knows it."""
        summary = self._flows.summary(FlowID(flow_id))
        if summary is None:
            summary = await self.store.flow_summary(flow_id)
        if summary is None:
            raise NotFoundError("flow", flow_id)
        return summary

    async def wait_flow(self, flow_id: str, timeout: float | None = None) -> FlowState:
        """The flow's state once it has ended (completed, failed or canceled); TimeoutError
        after ``timeout`` s."""
        ident = FlowID(flow_id)
        with self._flows.waiting(ident) as waiter:
            state = await self.get_flow(ident)
            if state.status.ended and not self._flows.is_appending(ident):
                return state
            async with asyncio.timeout(timeout):
                return await waiter

    async def flow_events(self, flow_id: str) -> list[dict[str, Any]]:
        events = await self.store.read(flow_aggregate(flow_id))
        if not events:
            raise NotFoundError("flow", flow_id)
        return [event.to_dict() for event in events]

    async def list_flows(
        self,
        status: FlowStatus | str | None = None,
        limit: int | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> list[FlowSummary]:
        """Flows newest first; with ``labels``, those that carry every one of them."""
        wanted = FlowStatus(status) if status else None
        return await self.store.list_flows(wanted, limit, labels)

    async def query_flows(self, query: FlowQuery) -> FlowPage:
        """One page of the flows that match ``query`` (``argyll.flow_query``), from the index."""
        return await self.store.query_flows(query)

    async def flow_counts(self) -> dict[FlowStatus, int]:
        """How many flows the store holds in each status."""
        return await self.store.flow_counts()

    async def complete_work(
        self, flow_id: str, step_id: str, token: str, outcome: decide.Outcome
    ) -> None:
        """Record a work item's result from outside (a webhook); repeats change nothing."""
        await self._trigger(
            FlowID(flow_id),
            lambda state, context: decide.on_work_outcome(state, step_id, token, outcome, context),
        )

    # ------------------------------------------------------ operating flows

    async def pause_flow(
        self, flow_id: str, reason: str | None = None, *, actor: str = ANONYMOUS
    ) -> FlowState:
        """Start nothing new in the flow until it is resumed (409 unless it is active)."""
        return await self._operate(flow_id, operate.on_pause, actor, reason)

    async def resume_flow(
        self, flow_id: str, reason: str | None = None, *, actor: str = ANONYMOUS
    ) -> FlowState:
        """Carry a paused flow on from where it stood (409 unless it is paused)."""
        return await self._operate(flow_id, operate.on_resume, actor, reason)

    async def cancel_flow(
        self, flow_id: str, reason: str | None = None, *, actor: str = ANONYMOUS
    ) -> FlowState:
        """End the flow: nothing more starts, running scripts stop (409 once it has ended)."""
        return await self._operate(flow_id, operate.on_cancel, actor, reason)

    async def retry_flow(
        self,
        flow_id: str,
        steps: Iterable[str] = (),
        *,
        complete: Mapping[str, Mapping[str, Any]] | None = None,
        skip: Iterable[str] = (),
        reason: str | None = None,
        actor: str = ANONYMOUS,
    ) -> FlowState:
        """Run a failed or canceled flow again from where it stopped.

        The failed steps (or ``steps``) and what ended because of them run again;
        ``complete`` and ``skip`` resolve steps by hand first; completed steps never rerun.
        """
        redrive = operate.Redrive(tuple(steps), dict(complete or {}), tuple(skip))
        return await self._operate(
            flow_id,
            lambda state, who, why, context: operate.on_retry(state, redrive, who, why, context),
            actor,
            reason,
        )

    async def complete_step(
        self,
        flow_id: str,
        step_id: str,
        outputs: Mapping[str, Any],
        reason: str | None = None,
        *,
        actor: str = ANONYMOUS,
    ) -> FlowState:
        """Resolve a step by hand with its outputs; the flow goes on as if the step had."""
        return await self._operate(
            flow_id,
            lambda state, who, why, context: operate.on_complete_step(
                state, step_id, outputs, who, why, context
            ),
            actor,
            reason,
        )

    async def skip_step(
        self, flow_id: str, step_id: str, reason: str | None = None, *, actor: str = ANONYMOUS
    ) -> FlowState:
        """Skip a step by hand; steps that needed its outputs are skipped in turn."""
        return await self._operate(
            flow_id,
            lambda state, who, why, context: operate.on_skip_step(
                state, step_id, who, why, context
            ),
            actor,
            reason,
        )

    async def explain_flow(self, flow_id: str) -> dict[str, Any]:
        """Why each step of the flow's plan is where it is (see ``argyll.explain``)."""
        events = await self.store.read(flow_aggregate(flow_id))
        if not events:
            raise NotFoundError("flow", flow_id)
        return explain(fold_flow(events), events, self.catalog).to_dict()

    async def _operate(
        self, flow_id: str, decider: Operation, actor: str, reason: str | None
    ) -> FlowState:
        state = await self._trigger(
            FlowID(flow_id),
            lambda flow, context: decider(flow, actor, reason, context),
            fresh=True,
        )
        return state

    def on_event(
        self, listener: Callable[[Event], None], wanted: Wanted | None = None
    ) -> Callable[[], None]:
        """Call ``listener`` with each event of the feed the engine follows that ``wanted``
        (asked with its aggregate and type) says yes to, every one without it, from now on
        (ride on its follower rather than follow the feed again); returns the undo. It runs
        on the follower's turn: quick, and never raising. Say what you want: while a
        listener wants everything, the engine decodes every event of the store."""
        return self._feed.listen(listener, wanted)

    def events(
        self, after: str | None = None, wanted: Wanted | None = None
    ) -> AsyncIterator[Event]:
        """Every event of the store from ``after`` ("" = the start, None = from now), then live;
        with ``wanted``, only those it says yes to (see ``EventStore.subscribe``)."""
        return self.store.subscribe(after, wanted)

    # ------------------------------------------------------------ internals

    async def _append(self, flow_id: FlowID, decision: decide.Decision, now: datetime) -> None:
        """Store the decision's events, then its memos, then cache its state; the flow's
        waiters are woken only after all three (``FlowCache.appending``)."""
        with self._flows.appending(flow_id):
            await self._store_decision(flow_id, decision, now)

    async def _store_decision(
        self, flow_id: FlowID, decision: decide.Decision, now: datetime
    ) -> None:
        if decision.events:
            aggregate = flow_aggregate(flow_id)
            stored = await self._timed_append(aggregate, decision.expected, decision.events, now)
            self.metrics.appended(decision.events)
            state = decision.state
            entries = memo_entries(state, stored) if state is not None else []
            if entries:
                await asyncio.shield(self._memoize(entries))
        if decision.state is not None:
            self._cache(decision.state)
            if snapshot_due(decision.expected, decision.state.version):
                self._tasks.spawn(save_snapshot(self.store, decision.state))

    async def _memoize(self, entries: list[tuple[str, Memo]]) -> None:
        """Keep the successes of memoizable steps just stored.

        Shielded by the caller: an engine closing meanwhile does not drop a put already
        sent, and the store's own order (one SQLite worker, one Redis pipeline queue)
        puts it before any later lookup this engine sends. A store that cannot keep one
        only costs a later miss: logged, never raised (the events are stored, and a retry
        of the decision would find nothing to do).
        """
        for key, memo in entries:
            try:
                await self.store.memo_put(key, memo)
            except StoreError as error:
                where = {"flow_id": memo.flow_id, "step_id": memo.step_id}
                log.warning("memo not kept: %s", error, extra=where)

    async def _timed_append(
        self, aggregate: str, expected: int, events: Sequence[EventData], now: datetime
    ) -> list[Event]:
        """Append, observing how long the store took (a refused stale append included)."""
        begun = time.perf_counter()
        try:
            return await self.store.append(aggregate, expected, events, now)
        finally:
            self.metrics.observe_append(time.perf_counter() - begun)

    async def metrics_text(self) -> bytes:
        """Every series in Prometheus text format; the active-flow gauge is read from the store."""
        counts = await self.store.flow_counts()
        return self.metrics.render(counts[FlowStatus.ACTIVE])

    def _limited_steps(self) -> list[str]:
        """The catalog's steps with a concurrency limit."""
        return [step.id for step in self.catalog.steps.values() if step.work_config.concurrency]

    def _cache(self, state: FlowState) -> None:
        """Keep the newest state; a flow that ended needs its lock no more."""
        if not self._flows.keep(state):
            self._locks.pop(state.id, None)

    async def _load(self, flow_id: FlowID) -> FlowState:
        cached = self._flows.get(flow_id)
        if cached is None:
            return await read_flow(self.store, flow_id)
        newer = await self.store.read(flow_aggregate(flow_id), after=cached.version)
        return fold(cached, newer, FLOW_APPLIERS)

    def _context(self) -> decide.Context:
        return decide.Context(
            self.clock.now(),
            self._new_token,
            self.instance_id,
            self.policy,
            self._scripts.evaluate,
            self._scripts.test,
        )

    async def _trigger(self, flow_id: FlowID, rule: Rule, *, fresh: bool = False) -> FlowState:
        """Decide on the freshest state and append, re-deciding if another writer won.

        ``fresh``: read what other writers appended first (an operator's call must not
        be refused on a state this engine has not caught up with); returns the new state.
        """
        lock = self._locks.setdefault(flow_id, asyncio.Lock())
        async with lock:
            try:
                cached = None if fresh else self._flows.get(flow_id)
                state = cached or await self._load(flow_id)
            except NotFoundError:
                self._locks.pop(flow_id, None)
                raise
            for _ in range(APPEND_ATTEMPTS):
                context = self._context()
                decision = rule(state, context)
                try:
                    await self._append(flow_id, decision, context.now)
                except VersionConflict:
                    state = await self._load(flow_id)
                    continue
                break
            else:
                raise ConflictError(f"flow {flow_id!r} kept changing; gave up deciding")
        self._dispatch.perform(decision)
        self._subflows.stop_children(decision)
        assert decision.state is not None  # noqa: S101 — narrows the type: the loop only breaks with a state
        return decision.state

    async def _record(self, flow_id: FlowID, rule: Rule) -> None:
        """Trigger until the store takes it: work that was done must not be forgotten."""
        delay = STORE_RETRY_FIRST
        while True:
            try:
                await self._trigger(flow_id, rule)
                return
            except StoreError as error:
                log.warning(
                    "store unavailable, retrying in %.1fs: %s",
                    delay,
                    error,
                    extra={"flow_id": flow_id},
                )
                self._flows.forget(flow_id)
            await asyncio.sleep(delay)
            delay = min(delay * 2, STORE_RETRY_MAX)
