"""A flow's waiters wake only once this engine has finished its append, memos stored included.

The engine appends a step's success, then stores its memo; the feed follower sees the
same events meanwhile. A store that holds ``memo_put`` open makes the gap as wide as a
test needs: nobody waiting for the flow may be answered inside it, or a caller that
starts the same work next misses the memo.
"""

import asyncio

from argyll import Engine
from argyll.events import FlowCompleted
from argyll.memo import memo_key
from argyll.model import FlowStatus
from argyll.store import MemoryEventStore
from argyll.testing import StepService, wait_until
from tests.runtime.test_memo_runtime import WAIT, discount_step, tenth

TURNS = 20
"""Loop turns given to a wrongly woken waiter to return (one or two are enough)."""


class HeldMemos(MemoryEventStore):
    """Memo puts wait for ``release``; ``putting`` tells that one has begun."""

    def __init__(self) -> None:
        super().__init__()
        self.putting = asyncio.Event()
        self.release = asyncio.Event()

    async def memo_put(self, key, memo):
        self.putting.set()
        async with asyncio.timeout(WAIT):
            await self.release.wait()
        await super().memo_put(key, memo)


async def test_waiters_wake_after_the_memo_is_stored():
    store = HeldMemos()
    seen = []
    async with StepService(tenth) as service, Engine(store) as engine:
        engine.on_event(seen.append, lambda aggregate, kind: kind == FlowCompleted.type)
        step = await engine.register_step(discount_step(service.url))
        await engine.start_flow(["discount"], {"amount": 100}, flow_id="first")
        early = asyncio.create_task(engine.wait_flow("first", timeout=WAIT))
        await wait_until(store.putting.is_set, "the memo put", timeout=WAIT)
        await wait_until(lambda: seen, "the follower's flow_completed", timeout=WAIT)
        late = asyncio.create_task(engine.wait_flow("first", timeout=WAIT))
        for _ in range(TURNS):  # proving a negative: give a wrong wake-up its turns
            await asyncio.sleep(0)
        assert not early.done() and not late.done()

        store.release.set()
        states = await asyncio.gather(early, late)
        assert await store.memo_get(memo_key(step, {"amount": 100})) is not None
    assert [state.status for state in states] == [FlowStatus.COMPLETED] * 2
    assert len(service.calls) == 1
