"""Memoization in the engine: hits skip the service, on every store, across restarts and instances.

Every step here is a real HTTP step on a loopback ``StepService`` that counts its calls.
"""

import pytest

from argyll import Engine
from argyll.decide import Succeeded
from argyll.errors import StoreError
from argyll.events import WorkSucceeded, flow_aggregate
from argyll.memo import memo_key
from argyll.model import FlowStatus, StepStatus
from argyll.store import MemoryEventStore
from argyll.testing import StepService, wait_until

WAIT = 10.0


def discount_step(url, *, memoizable=True, timeout=5000, kind="sync", max_retries=0):
    return {
        "id": "discount",
        "name": "Discount",
        "type": kind,
        "memoizable": memoizable,
        "http": {"endpoint": f"{url}/discount", "timeout": timeout},
        "attributes": {
            "amount": {"role": "required", "type": "number"},
            "discount": {"role": "output", "type": "number"},
        },
        "work_config": {"max_retries": max_retries, "init_backoff": 10, "backoff_type": "fixed"},
    }


def tenth(call):
    return 200, {"discount": call.body["amount"] / 10}


async def run(engine, amount, flow_id):
    await engine.start_flow(["discount"], {"amount": amount}, flow_id=flow_id)
    return await engine.wait_flow(flow_id, timeout=WAIT)


async def succeeded(engine, flow_id):
    """The flow's ``work_succeeded`` events, as stored."""
    events = await engine.store.read(flow_aggregate(flow_id))
    return [event for event in events if isinstance(event.data, WorkSucceeded)]


async def test_a_hit_calls_nothing_and_names_the_event_that_produced_it(engine):
    async with StepService(tenth) as service:
        await engine.register_step(discount_step(service.url))
        first = await run(engine, 100, "first")
        second = await run(engine, 100, "second")

    assert len(service.calls) == 1
    assert first.attributes["discount"].value == second.attributes["discount"].value == 10
    (produced,) = await succeeded(engine, "first")
    (hit,) = await succeeded(engine, "second")
    assert produced.data.memo is None
    assert hit.data.memo is not None
    assert (hit.data.memo.flow_id, hit.data.memo.seq) == ("first", produced.seq)
    assert hit.to_dict()["data"]["memo"] == {"flow_id": "first", "seq": produced.seq}
    (item,) = second.executions["discount"].work_items.values()
    assert item.to_dict()["memo"] == {"flow_id": "first", "seq": produced.seq}
    assert item.outputs == {"discount": 10}
    explained = await engine.explain_flow("second")
    assert explained["steps"]["discount"]["detail"]["memo"] == [
        {"flow_id": "first", "seq": produced.seq}
    ]


async def test_other_inputs_and_steps_that_are_not_memoizable_call_the_service(engine):
    async with StepService(tenth) as service:
        await engine.register_step(discount_step(service.url))
        await run(engine, 100, "a")
        other = await run(engine, 200, "b")
        assert len(service.calls) == 2
        assert other.attributes["discount"].value == 20

        await engine.update_step("discount", discount_step(service.url, memoizable=False))
        await run(engine, 100, "c")
        await run(engine, 100, "d")

    assert len(service.calls) == 4
    assert all(event.data.memo is None for event in await succeeded(engine, "d"))


async def test_a_failure_is_never_memoized(engine):
    answers = iter([(400, {"error": "bad amount"}), (503, None), (200, {"discount": 1})])

    async with StepService(lambda call: next(answers)) as service:
        await engine.register_step(discount_step(service.url, max_retries=1))
        failed = await run(engine, 10, "fails")
        retried = await run(engine, 10, "retried")
        hit = await run(engine, 10, "hit")

    assert failed.status is FlowStatus.FAILED
    assert retried.status is hit.status is FlowStatus.COMPLETED
    assert len(service.calls) == 3
    (produced,) = await succeeded(engine, "retried")
    (reused,) = await succeeded(engine, "hit")
    assert reused.data.memo is not None and reused.data.memo.flow_id == "retried"
    assert reused.data.memo.seq == produced.seq


async def test_an_update_of_the_step_forgets_its_memos(engine):
    async with StepService(tenth) as service:
        definition = discount_step(service.url)
        step = await engine.register_step(definition)
        await run(engine, 100, "before")
        assert await engine.store.memo_get(memo_key(step, {"amount": 100})) is not None

        await engine.update_step("discount", discount_step(service.url, timeout=6000))
        assert await engine.store.memo_get(memo_key(step, {"amount": 100})) is None
        await run(engine, 100, "after")
        await engine.update_step("discount", definition)  # back as it was: forgotten still
        await run(engine, 100, "restored")
        await run(engine, 100, "hit")

    assert len(service.calls) == 3
    (reused,) = await succeeded(engine, "hit")
    assert reused.data.memo is not None and reused.data.memo.flow_id == "restored"


async def test_unregistering_the_step_forgets_its_memos(engine):
    async with StepService(tenth) as service:
        step = await engine.register_step(discount_step(service.url))
        await run(engine, 100, "before")

        await engine.unregister_step("discount")

        assert await engine.store.memo_get(memo_key(step, {"amount": 100})) is None
        await engine.register_step(discount_step(service.url))
        await run(engine, 100, "after")
    assert len(service.calls) == 2


async def test_an_async_step_s_webhook_result_is_memoized(engine):
    async with StepService(lambda call: (202, None)) as service:
        await engine.register_step(discount_step(service.url, kind="async"))
        await engine.start_flow(["discount"], {"amount": 5}, flow_id="webhook")
        await wait_until(lambda: len(service.calls) == 1, "the async call", timeout=WAIT)
        token = service.calls[0].headers["Argyll-Receipt-Token"]
        await engine.complete_work("webhook", "discount", token, Succeeded({"discount": 0.5}))
        await engine.wait_flow("webhook", timeout=WAIT)

        hit = await run(engine, 5, "hit")

    assert len(service.calls) == 1
    assert hit.attributes["discount"].value == 0.5


async def test_for_each_items_are_memoized_one_by_one(engine):
    async with StepService(lambda call: (200, {"doubled": call.body["n"] * 2})) as service:
        await engine.register_step(
            {
                "id": "double",
                "type": "sync",
                "memoizable": True,
                "http": {"endpoint": f"{service.url}/double"},
                "attributes": {
                    "n": {"role": "required", "type": "array", "for_each": True},
                    "doubled": {"role": "output"},
                },
            }
        )
        await engine.start_flow(["double"], {"n": [1, 2]}, flow_id="first")
        await engine.wait_flow("first", timeout=WAIT)
        await engine.start_flow(["double"], {"n": [2, 3]}, flow_id="second")
        second = await engine.wait_flow("second", timeout=WAIT)

    assert sorted(call.body["n"] for call in service.calls) == [1, 2, 3]
    assert second.attributes["doubled"].value == [{"n": 2, "doubled": 4}, {"n": 3, "doubled": 6}]
    memos = [event.data.memo for event in await succeeded(engine, "second")]
    assert [memo.flow_id for memo in memos if memo is not None] == ["first"]


async def test_memos_outlive_the_engine_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'memo.db'}"
    async with StepService(tenth) as service:
        async with Engine(url) as before:
            await before.register_step(discount_step(service.url))
            await run(before, 100, "before")
        async with Engine(url) as after:
            state = await run(after, 100, "after")
            (hit,) = await succeeded(after, "after")

    assert len(service.calls) == 1
    assert state.executions["discount"].status is StepStatus.COMPLETED
    assert hit.data.memo is not None and hit.data.memo.flow_id == "before"


@pytest.mark.parametrize("redis", ["redis_url", "redis_cluster_url"])
async def test_a_result_computed_on_one_instance_is_a_hit_on_another(request, redis):
    redis_url = request.getfixturevalue(redis)
    async with StepService(tenth) as service, Engine(redis_url) as a, Engine(redis_url) as b:
        await a.register_step(discount_step(service.url))
        await wait_until(lambda: "discount" in b.catalog.steps, "b sees the step", timeout=WAIT)
        await run(a, 100, "on-a")
        on_b = await run(b, 100, "on-b")
        (hit,) = await succeeded(b, "on-b")

    assert len(service.calls) == 1
    assert on_b.attributes["discount"].value == 10
    assert hit.data.memo is not None and hit.data.memo.flow_id == "on-a"
    assert {call.headers["Argyll-Flow-Id"] for call in service.calls} == {"on-a"}


async def test_a_full_memo_table_evicts_and_the_evicted_runs_again(tmp_path):
    url = f"sqlite:///{tmp_path / 'small.db'}?memo_limit=1"
    async with StepService(tenth) as service, Engine(url) as engine:
        await engine.register_step(discount_step(service.url))
        for flow_id, amount in [("a", 1), ("b", 2), ("c", 2), ("d", 1)]:
            await run(engine, amount, flow_id)

    assert [call.body["amount"] for call in service.calls] == [1, 2, 1]


class MemosDown(MemoryEventStore):
    """A store whose memos cannot be reached; everything else works."""

    async def memo_get(self, key):
        raise StoreError("memos unreachable")

    async def memo_put(self, key, memo):
        raise StoreError("memos unreachable")


async def test_unreachable_memos_cost_a_call_not_the_flow():
    async with StepService(tenth) as service, Engine(MemosDown()) as engine:
        await engine.register_step(discount_step(service.url))
        first = await run(engine, 100, "first")
        second = await run(engine, 100, "second")

    assert first.status is second.status is FlowStatus.COMPLETED
    assert len(service.calls) == 2
