"""work_config.concurrency: a step's items in flight at its service, over every flow and engine.

The service counts the calls it is answering at once; each call waits until the
test lets it go (or for a pause), so the tests decide when slots free up.
"""

from __future__ import annotations

import asyncio
import signal
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta

import httpx
from test_many_instances import catalog_has, instance

from argyll import Engine
from argyll.errors import StoreError
from argyll.events import Event, flow_aggregate
from argyll.model import FlowID, FlowStatus
from argyll.runtime.leases import OpenWork
from argyll.store import EventStore, MemoryEventStore, open_store
from argyll.store.base import SlotHolder
from argyll.store.contract import skipped
from argyll.testing import Call, StepService, wait_until


class CountingService:
    """Answers ``{"y": x}``; counts calls in flight and the most at once, in arrival order."""

    def __init__(self, pause: float | None = None) -> None:
        self.pause = pause
        """Seconds each call takes; None: it waits until ``let_go``."""
        self.in_flight = 0
        self.most = 0
        self.flows: list[str] = []
        self._held: list[asyncio.Future[None]] = []

    async def answer(self, call: Call) -> tuple[int, dict]:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        self.flows.append(call.headers["Argyll-Flow-Id"])
        try:
            if self.pause is None:
                let_go = asyncio.get_running_loop().create_future()
                self._held.append(let_go)
                await let_go
            else:
                await asyncio.sleep(self.pause)
        finally:
            self.in_flight -= 1
        return 200, {"y": call.body["x"]}

    def let_go(self) -> None:
        """Answer the oldest call being held."""
        self._held.pop(0).set_result(None)

    def let_all_go(self, pause: float) -> None:
        """Answer every held call; later calls take ``pause`` seconds."""
        self.pause = pause
        while self._held:
            self.let_go()


def limited_step(url: str, concurrency: int, **work_config: object) -> dict:
    return {
        "id": "limited",
        "type": "sync",
        "attributes": {"x": {"role": "required"}, "y": {"role": "output"}},
        "http": {"endpoint": f"{url}/limited", "timeout": 60000},
        "work_config": {"concurrency": concurrency, **work_config},
    }


async def waiting_are(store: EventStore, flows: list[str]) -> bool:
    """Whether exactly ``flows`` wait for a slot of ``limited``, in this order."""
    return [holder.flow_id for holder in await store.slot_waiters("limited")] == flows


async def test_items_over_the_limit_wait_and_start_in_order_of_readiness(engine: Engine):
    service = CountingService()
    async with StepService(service.answer) as svc:
        await engine.register_step(limited_step(svc.url, 2))
        ids = [await engine.start_flow(["limited"], {"x": n}, flow_id=f"f{n}") for n in range(6)]
        await wait_until(lambda: service.in_flight == 2, "2 calls in flight")
        await wait_until(
            lambda: waiting_are(engine.store, ids[2:]), "4 flows waiting, in order"
        )
        for n in range(2, 6):
            service.let_go()
            await wait_until(lambda n=n: len(service.flows) == n + 1, f"call {n + 1}")
            assert service.flows[-1] == ids[n]
            assert service.in_flight == 2
        while service.in_flight:
            service.let_go()
            await asyncio.sleep(0)
        for flow_id in ids:
            state = await engine.wait_flow(flow_id, timeout=10)
            assert state.status is FlowStatus.COMPLETED
    assert service.most == 2
    await wait_until(lambda: _empty_slots(engine), "every slot given back")


async def test_a_retry_waiting_for_its_backoff_holds_no_slot(engine: Engine):
    answered: list[str] = []
    release = asyncio.Event()

    async def flaky_then_held(call: Call) -> tuple[int, dict]:
        flow_id = call.headers["Argyll-Flow-Id"]
        answered.append(flow_id)
        if flow_id == "first" and answered.count("first") == 1:
            return 503, {"error": "busy"}
        await release.wait()
        return 200, {"y": call.body["x"]}

    async with StepService(flaky_then_held) as svc:
        retry = {"init_backoff": 200, "backoff_type": "fixed", "max_retries": 3}
        await engine.register_step(limited_step(svc.url, 1, **retry))
        await engine.start_flow(["limited"], {"x": 1}, flow_id="first")
        await engine.start_flow(["limited"], {"x": 2}, flow_id="second")
        await wait_until(lambda: answered == ["first", "second"], "second ran during the backoff")
        await wait_until(lambda: waiting_are(engine.store, ["first"]), "the retry waiting")
        assert answered == ["first", "second"]
        release.set()
        for flow_id in ("first", "second"):
            state = await engine.wait_flow(flow_id, timeout=10)
            assert state.status is FlowStatus.COMPLETED
    assert answered == ["first", "second", "first"]
    await wait_until(lambda: _empty_slots(engine), "every slot given back")


async def test_a_failed_flow_gives_back_the_slots_of_its_waiting_items(engine: Engine):
    service = CountingService()
    async with StepService(service.answer) as svc:
        step = limited_step(svc.url, 1, parallelism=3)
        step["attributes"]["x"]["for_each"] = True
        await engine.register_step(step)
        await engine.register_step(
            {
                "id": "boom",
                "type": "script",
                "attributes": {"x": {"role": "required"}, "z": {"role": "output"}},
                "script": {"language": "ale", "script": "(/ 1 0)"},
            }
        )
        flow_id = await engine.start_flow(["limited", "boom"], {"x": [1, 2, 3]})
        state = await engine.wait_flow(flow_id, timeout=10)
        assert state.status is FlowStatus.FAILED
        await wait_until(lambda: _empty_slots(engine), "every slot given back")
        service.let_all_go(0)


async def test_three_instances_on_one_redis_keep_to_the_limit(redis_url: str):
    service = CountingService(pause=0.05)
    async with AsyncExitStack() as stack:
        svc = await stack.enter_async_context(StepService(service.answer))
        urls = [(await stack.enter_async_context(instance(redis_url)))[0] for _ in range(3)]
        async with httpx.AsyncClient(timeout=30) as client:
            await _register_everywhere(client, urls, limited_step(svc.url, 2))
            ids = await _start(client, urls, 24)
            await _wait_completed(client, urls[0], ids)
    assert service.most == 2
    assert sorted(service.flows) == sorted(ids)


async def test_a_killed_instance_s_slots_are_freed_when_its_lease_lapses(redis_url: str):
    service = CountingService()
    async with AsyncExitStack() as stack:
        svc = await stack.enter_async_context(StepService(service.answer))
        (doomed_url, doomed), *others = [
            await stack.enter_async_context(instance(redis_url)) for _ in range(3)
        ]
        store = await stack.enter_async_context(open_store(redis_url))
        async with httpx.AsyncClient(timeout=30) as client:
            await _register_everywhere(
                client, [doomed_url, *(url for url, _ in others)], limited_step(svc.url, 2)
            )
            ids = await _start(client, [doomed_url], 6)
            await wait_until(lambda: service.in_flight == 2, "the doomed instance's 2 calls")
            await wait_until(
                lambda: waiting_are(store, ids[2:]), "4 items waiting for a slot"
            )
            doomed.send_signal(signal.SIGKILL)
            await doomed.wait()
            service.let_all_go(pause=0.05)  # the killed instance's calls answer no one
            service.most = 0
            await _wait_completed(client, others[0][0], ids)
    assert service.most == 2


async def _register_everywhere(client: httpx.AsyncClient, urls: list[str], step: dict) -> None:
    assert (await client.post(f"{urls[0]}/engine/step", json=step)).is_success
    for url in urls[1:]:
        await wait_until(lambda u=url: catalog_has(client, u, 1), f"the step on {url}")


async def _start(client: httpx.AsyncClient, urls: list[str], count: int) -> list[str]:
    ids = [f"limited-{n}" for n in range(count)]
    for n, flow_id in enumerate(ids):
        body = {"id": flow_id, "goals": ["limited"], "init": {"x": n}}
        reply = await client.post(f"{urls[n % len(urls)]}/engine/flow", json=body)
        assert reply.status_code == 201, reply.text
    return ids


async def _wait_completed(client: httpx.AsyncClient, url: str, ids: list[str]) -> None:
    async def all_completed() -> bool:
        reply = await client.get(f"{url}/engine/flow", params={"status": "completed"})
        return set(ids) <= {flow["id"] for flow in reply.json()["flows"]}

    await wait_until(all_completed, f"{len(ids)} flows completed", timeout=60, interval=0.1)


async def _empty_slots(engine: Engine) -> bool:
    store = engine.store
    return not await store.slot_holders("limited") and not await store.slot_waiters("limited")


def test_a_flow_waiting_in_line_for_a_slot_is_not_quiet():
    open_work = OpenWork()
    started = datetime(2026, 1, 1, tzinfo=UTC)
    for flow_id in ("waiting", "quiet"):
        open_work.observe(Event(flow_aggregate(flow_id), 1, started, skipped(flow_id)))
    later = started + timedelta(seconds=10)

    orphans = open_work.orphaned("me", {"me"}, later, 5.0, in_line={FlowID("waiting")})

    assert list(orphans) == ["quiet"]


class FailingReleases:
    """A memory store whose first ``failures`` releases fail as an unreachable store's would."""

    def __init__(self, failures: int) -> None:
        self.inner, self.failures = MemoryEventStore(), failures

    async def release_slot(self, holder: SlotHolder, limit: int) -> list[SlotHolder]:
        if self.failures:
            self.failures -= 1
            raise StoreError("memory://: unreachable")
        return await self.inner.release_slot(holder, limit)

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


async def test_a_release_the_store_refused_is_made_again():
    store = FailingReleases(failures=2)
    service = CountingService(pause=0.01)
    async with StepService(service.answer) as svc, Engine(store) as engine:  # type: ignore[arg-type]
        await engine.register_step(limited_step(svc.url, 1))
        ids = [await engine.start_flow(["limited"], {"x": n}) for n in range(2)]
        for flow_id in ids:
            state = await engine.wait_flow(flow_id, timeout=10)
            assert state.status is FlowStatus.COMPLETED
        await wait_until(lambda: _empty_slots(engine), "every slot given back")
    assert store.failures == 0
    assert service.most == 1
