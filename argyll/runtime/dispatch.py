"""Performing decided effects: running work items and predicates, and waking flows when due.

Effects are performed only after the events that decided them are stored. Each
runs in a background task, and what it found goes back through ``record`` (the
engine's trigger, retried while the store is unreachable), so a result is
decided on like any other trigger. A predicate already being evaluated for a
step is not started twice. Work of a step with a concurrency limit waits for a
slot (``slots.py``), and the slots a decision freed are given back with it. An
attempt that answers at once is timed here; an async step's result arrives by
webhook and has no duration of its own. Running scripts are kept by flow, so a
flow that ends early (canceled, timed out) stops them; HTTP calls already sent
are left to answer, and their results are recorded. A memoizable step's item is
looked up in the store's memos first: a hit is recorded as its result and nothing
is called (a store that cannot answer the lookup counts as a miss).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any

from argyll import decide
from argyll.compensate import RunCompensation
from argyll.errors import NotFoundError, StoreError
from argyll.memo import memo_key
from argyll.model import FlowID, FlowState, StepType
from argyll.runtime.clock import Clock
from argyll.runtime.metrics import Metrics
from argyll.runtime.slots import SlotKeeper, started_item
from argyll.runtime.tasks import BackgroundTasks
from argyll.runtime.timers import Timers
from argyll.runtime.work import WorkRunner
from argyll.store.base import Memos, Slots

log = logging.getLogger("argyll.engine")

Rule = Callable[[FlowState, decide.Context], decide.Decision]
Record = Callable[[FlowID, Rule], Awaitable[None]]
"""Decide on a flow with a rule and store the result, until the store takes it."""


class Dispatcher:
    """Turns effects into work, predicate checks and timers."""

    def __init__(
        self,
        work: WorkRunner,
        clock: Clock,
        record: Record,
        tasks: BackgroundTasks,
        metrics: Metrics,
        slots: Callable[[], Slots],
        instance: str,
        limited_steps: Callable[[], Iterable[str]],
        memos: Callable[[], Memos],
    ) -> None:
        self._work, self._record, self._tasks = work, record, tasks
        self._memos = memos
        self._metrics = metrics
        self._predicates: set[tuple[FlowID, str]] = set()
        self._scripts: dict[FlowID, set[asyncio.Task[Any]]] = {}
        self._timers = Timers(clock, self._wake)
        self.slots = SlotKeeper(slots, instance, self._start_granted, tasks, limited_steps)

    def perform(self, decision: decide.Decision) -> None:
        """Perform the decided effects, and give back the slots the decision freed."""
        self.slots.release(decision)
        for effect in decision.effects:
            match effect:
                case decide.RunWork(flow_id=flow_id, step=step):
                    task = self._tasks.spawn(self._run_work(effect))
                    if step.type is StepType.SCRIPT:
                        self._keep_script(flow_id, task)
                case decide.AcquireSlot():
                    self.slots.acquire(effect)
                case decide.StopWork(flow_id=flow_id):
                    self.stop(flow_id)
                case decide.EvaluatePredicate(flow_id=flow_id, step=step):
                    if (flow_id, step.id) not in self._predicates:
                        self._predicates.add((flow_id, step.id))
                        self._tasks.spawn(self._evaluate(effect))
                case decide.ScheduleWake(flow_id=flow_id, at=at):
                    self._timers.schedule(flow_id, at)
                case RunCompensation():
                    self._tasks.spawn(self._compensate(effect))

    def schedule(self, flow_id: FlowID, at: datetime) -> None:
        """Wake the flow at ``at`` (a deadline found at start-up)."""
        self._timers.schedule(flow_id, at)

    def stop(self, flow_id: FlowID) -> None:
        """Stop the flow's running scripts (their results would be recorded and start nothing)."""
        for task in self._scripts.pop(flow_id, set()):
            task.cancel()

    def _keep_script(self, flow_id: FlowID, task: asyncio.Task[Any]) -> None:
        running = self._scripts.setdefault(flow_id, set())
        running.add(task)

        def forget(done: asyncio.Task[Any]) -> None:
            running.discard(done)
            if not running and self._scripts.get(flow_id) is running:
                del self._scripts[flow_id]

        task.add_done_callback(forget)

    def close(self) -> None:
        """Cancel every scheduled wake (work in flight is cancelled with the tasks)."""
        self._timers.cancel_all()

    async def _run_work(self, effect: decide.RunWork) -> None:
        outcome = await self._memoized(effect) if effect.step.memoizable else None
        if outcome is None:
            begun = time.perf_counter()
            outcome = await self._work.run(effect)
            if outcome is None:
                return
            self._metrics.observe_work(effect.step.id, time.perf_counter() - begun)
        try:
            await self._record(
                effect.flow_id,
                lambda state, context: decide.on_work_outcome(
                    state, effect.step.id, effect.token, outcome, context
                ),
            )
        except NotFoundError:
            # A retry gave the step fresh tokens while this attempt ran: nothing to record on.
            log.info(
                "result of a replaced attempt dropped",
                extra={"flow_id": effect.flow_id, "step_id": effect.step.id},
            )

    async def _memoized(self, effect: decide.RunWork) -> decide.Memoized | None:
        """The item's memoized result, if the store holds one."""
        try:
            memo = await self._memos().memo_get(memo_key(effect.step, effect.inputs))
        except StoreError as error:
            log.warning(
                "memo lookup failed, running the step: %s",
                error,
                extra={"flow_id": effect.flow_id, "step_id": effect.step.id},
            )
            return None
        if memo is None:
            return None
        return decide.Memoized(memo.outputs, FlowID(memo.flow_id), memo.seq)

    async def _compensate(self, effect: RunCompensation) -> None:
        outcome = await self._work.compensate(effect)
        await self._record(
            effect.flow_id,
            lambda state, context: decide.on_compensation(
                state, effect.step.id, effect.token, outcome, context
            ),
        )

    async def _start_granted(self, effect: decide.AcquireSlot) -> bool:
        """Decide on an item granted a slot; whether that started it."""
        decided: list[decide.Decision] = []

        def rule(state: FlowState, context: decide.Context) -> decide.Decision:
            decided[:] = [
                decide.on_slot_granted(
                    state, effect.step.id, effect.token, effect.claim_from, context
                )
            ]
            return decided[0]

        await self._record(effect.flow_id, rule)
        return bool(decided) and started_item(decided[0], effect.token)

    async def _evaluate(self, effect: decide.EvaluatePredicate) -> None:
        result, error = await self._work.check_predicate(effect)
        try:
            await self._record(
                effect.flow_id,
                lambda state, context: decide.on_predicate(
                    state, effect.step.id, result, error, context
                ),
            )
        finally:
            self._predicates.discard((effect.flow_id, effect.step.id))

    def _wake(self, flow_id: str) -> None:
        self._tasks.spawn(self._record(FlowID(flow_id), decide.on_wake))
