"""Concurrency slots at the engine: asking the store for them, waiting in line, giving them back.

A work item of a step with a concurrency limit starts only once the store grants
it a slot (``decide.AcquireSlot``, then ``decide.on_slot_granted``). This engine
keeps one line per step of the items it asked for, in the order the store queued
them: new asks are sent together and in that order, so the store queues them as
the line does. A release hands the freed slots to the first in line at once, in
the store; when those are this engine's items, they start right away. For the
slots other engines handed to this one's items, or that were reaped, the line's
poller asks again every ``POLL_INTERVAL`` seconds, first in line first, stopping
at the first item that must still wait (the store never lets a later one
overtake it).

A slot is given back when a decision ends its item (a result, a retry scheduled)
or its flow, and when a grant is no longer wanted (the decider started nothing).
The slots of an engine that died are reaped with its lease (``takeover.py``).
No slot is a lock held across an await: each ask and each release is one atomic
call to the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from argyll import decide
from argyll.errors import ArgyllError, StoreError
from argyll.events import WorkFailed, WorkNotCompleted, WorkStarted, WorkSucceeded
from argyll.model import FlowID, FlowState, StepID, Token, WorkStatus
from argyll.runtime.tasks import BackgroundTasks
from argyll.store.base import SlotAnswer, SlotHolder, Slots
from argyll.transitions import FLOW_TRANSITIONS

log = logging.getLogger("argyll.engine")

POLL_INTERVAL = 0.25
"""Seconds between asks for the items in line, for slots freed without a hand-over."""
ASKS_AT_ONCE = 8
"""Items in line asked for together, first in line first."""
RETRY_FIRST, RETRY_MAX = 0.05, 5.0
"""Seconds between attempts to give slots back while the store is unreachable."""

ENDS_ITEM = (WorkSucceeded, WorkFailed, WorkNotCompleted)
OPEN = (WorkStatus.PENDING, WorkStatus.ACTIVE, WorkStatus.NOT_COMPLETED)

Item = tuple[StepID, FlowID, Token]
Start = Callable[[decide.AcquireSlot], Awaitable[bool]]
"""Decide on a granted item (``decide.on_slot_granted``); whether the item was started."""


@dataclass(slots=True)
class _Line:
    """This engine's items of one step: in the store's queue, and not yet asked for."""

    queued: dict[Item, decide.AcquireSlot] = field(default_factory=dict)
    new: dict[Item, decide.AcquireSlot] = field(default_factory=dict)
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)


def item_of(effect: decide.AcquireSlot) -> Item:
    return effect.step.id, effect.flow_id, effect.token


def limit_of(effect: decide.AcquireSlot) -> int:
    return effect.step.work_config.concurrency or 1


def ended_items(decision: decide.Decision) -> list[tuple[Item, int]]:
    """The items of limited steps whose slots ``decision`` frees, with the step's limit:
    those it ended, and, once the flow has ended, every item of those steps still open."""
    state = decision.state
    if state is None or not decision.events:
        return []
    limits = {
        step_id: step.work_config.concurrency
        for step_id, step in state.plan.steps.items()
        if step.work_config.concurrency
    }
    if not limits:
        return []
    items = [
        (event.step_id, state.id, event.token)
        for event in decision.events
        if isinstance(event, ENDS_ITEM) and event.step_id in limits
    ]
    if not FLOW_TRANSITIONS.moves[state.status]:  # the flow has ended, for good
        items += _open_items(state, set(limits))
    return [(item, limits[item[0]]) for item in items]


def started_item(decision: decide.Decision, token: Token) -> bool:
    """Whether ``decision`` started the work item ``token``."""
    return any(isinstance(e, WorkStarted) and e.token == token for e in decision.events)


def _open_items(state: FlowState, steps: set[StepID]) -> list[Item]:
    return [
        (step_id, state.id, token)
        for step_id in steps
        for token, item in state.executions[step_id].work_items.items()
        if item.status in OPEN
    ]


class SlotKeeper:
    """This engine's asks for slots, its lines of waiting items, and its releases."""

    def __init__(
        self,
        store: Callable[[], Slots],
        instance: str,
        start: Start,
        tasks: BackgroundTasks,
        limited_steps: Callable[[], Iterable[str]],
        poll_interval: float = POLL_INTERVAL,
    ) -> None:
        self._store, self._instance, self._start = store, instance, start
        self._limited_steps = limited_steps
        self._tasks, self._interval = tasks, poll_interval
        self._lines: dict[StepID, _Line] = {}
        self._asked: set[Item] = set()
        """Items in a line or being started: a repeated AcquireSlot for them is ignored."""

    def acquire(self, effect: decide.AcquireSlot) -> None:
        item = item_of(effect)
        if item in self._asked:
            return
        self._asked.add(item)
        line = self._lines.get(effect.step.id)
        if line is None:
            line = self._lines[effect.step.id] = _Line()
            self._tasks.spawn(self._keep(effect.step.id, line))
        line.new[item] = effect
        line.wakeup.set()

    def release(self, decision: decide.Decision) -> None:
        """Give back the slots ``decision`` freed (see ``ended_items``)."""
        items = ended_items(decision)
        if items:
            self._tasks.spawn(self._release(items))

    def freed(self) -> None:
        """Ask again now for every line (slots were freed elsewhere: reaped)."""
        for line in self._lines.values():
            line.wakeup.set()

    async def flows_in_line(self) -> set[FlowID]:
        """The flows with items in the store's queue of any step with a limit (in the catalog)."""
        store = self._store()
        queues = await asyncio.gather(*(store.slot_waiters(s) for s in self._limited_steps()))
        return {FlowID(holder.flow_id) for queue in queues for holder in queue}

    def _holder(self, item: Item) -> SlotHolder:
        step_id, flow_id, token = item
        return SlotHolder(self._instance, flow_id, step_id, token)

    async def _release(self, items: list[tuple[Item, int]]) -> None:
        """Give the slots back, until the store takes it (a lost release would shrink the
        limit for good); start this engine's items the store handed them to."""
        delay = RETRY_FIRST
        while True:
            store = self._store()
            try:
                granted = await asyncio.gather(
                    *(store.release_slot(self._holder(item), limit) for item, limit in items)
                )
                break
            except StoreError as error:  # releasing again is harmless; lost hand-overs are
                log.warning("giving back slots failed, again in %.1fs: %s", delay, error)
                await asyncio.sleep(delay)  # found by the polls of the lines
                delay = min(delay * 2, RETRY_MAX)
        for holder in itertools.chain.from_iterable(granted):
            if holder.instance == self._instance:
                self._handed(holder)

    def _handed(self, holder: SlotHolder) -> None:
        """Start an item of this engine that a release granted a slot."""
        item = (StepID(holder.step_id), FlowID(holder.flow_id), Token(holder.token))
        line = self._lines.get(item[0])
        effect = line.queued.pop(item, None) if line else None
        if effect is not None:
            self._tasks.spawn(self._granted(item, effect))
        elif line is not None:  # its first ask's answer is still on its way: ask again
            line.wakeup.set()

    async def _keep(self, step_id: StepID, line: _Line) -> None:
        """Ask for the line's items until none is left (then the line goes)."""
        try:
            while line.queued or line.new:
                if not line.new:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self._interval):
                            await line.wakeup.wait()
                line.wakeup.clear()
                try:
                    await self._ask_queued(line)
                    await self._ask_new(line)
                except ArgyllError as error:
                    log.warning("asking for slots of %s failed: %s", step_id, error)
                    await asyncio.sleep(self._interval)
        finally:
            del self._lines[step_id]
            self._asked.difference_update(line.queued, line.new)

    async def _ask_queued(self, line: _Line) -> None:
        """Ask for the items in line, first first, until one must still wait."""
        while line.queued:
            batch = list(itertools.islice(line.queued.items(), ASKS_AT_ONCE))
            answers = await self._ask(batch, join=False)
            for (item, effect), answer in zip(batch, answers, strict=True):
                # an item a release handed a slot meanwhile has left the line: it is started
                if answer is not SlotAnswer.WAITING and line.queued.pop(item, None):
                    self._answered(item, effect, answer)
            if SlotAnswer.WAITING in answers:
                return

    async def _ask_new(self, line: _Line) -> None:
        """Ask for every new item at once, in order, so the store queues them as the line."""
        batch, line.new = list(line.new.items()), {}
        try:
            answers = await self._ask(batch, join=True)
        except BaseException:  # asking again joins no item twice
            line.new = {**dict(batch), **line.new}
            raise
        for (item, effect), answer in zip(batch, answers, strict=True):
            if answer is SlotAnswer.WAITING:
                line.queued[item] = effect
            else:
                self._answered(item, effect, answer)

    async def _ask(
        self, batch: list[tuple[Item, decide.AcquireSlot]], join: bool
    ) -> list[SlotAnswer]:
        store = self._store()
        return await asyncio.gather(
            *(store.acquire_slot(self._holder(item), limit_of(e), join) for item, e in batch)
        )

    def _answered(self, item: Item, effect: decide.AcquireSlot, answer: SlotAnswer) -> None:
        if answer is SlotAnswer.GRANTED:
            self._tasks.spawn(self._granted(item, effect))
        else:  # another engine has the item in hand, or its slot was given back meanwhile
            self._asked.discard(item)

    async def _granted(self, item: Item, effect: decide.AcquireSlot) -> None:
        started = False
        try:
            started = await self._start(effect)
        finally:
            self._asked.discard(item)
            if not started:
                await self._release([(item, limit_of(effect))])
