"""Sub-flows on a real engine: a child per flow-step item, its end as the item's result,
cancels passed down, and children that outlive their engine (restart, a killed instance)."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from test_recovery import kill

from argyll import Engine
from argyll.apply import fold_flow
from argyll.decide import Context, Failed, RunWork, Succeeded, on_work_outcome
from argyll.events import flow_aggregate
from argyll.model import FlowID, FlowState, FlowStatus, ParentRef, StepStatus, WorkStatus
from argyll.operate import on_cancel
from argyll.runtime.subflows import SubflowRunner
from argyll.runtime.tasks import BackgroundTasks
from argyll.store import EventStore, open_store
from argyll.subflow import CHILD_CANCELED, ChildFlow, child_flow_id
from argyll.testing import Call, StepService, script_step, wait_until

WORKER = Path(__file__).with_name("subflow_process.py")
DOUBLE = script_step("double", "{:y (* x 2)}", requires=["x"], outputs=["y"])


def sub(goals: list[str], **attributes: str) -> dict[str, Any]:
    """A flow step for ``goals``: ``x`` in, ``y`` out unless other roles are given."""
    roles = attributes or {"x": "required", "y": "output"}
    return {
        "id": "sub",
        "type": "flow",
        "flow": {"goals": goals},
        "attributes": {name: {"role": role} for name, role in roles.items()},
    }


def waiting_step(url: str) -> dict[str, Any]:
    """An async HTTP step: acknowledged at once, finished only when a webhook says so."""
    return {
        "id": "pay",
        "type": "async",
        "attributes": {"x": {"role": "required"}, "y": {"role": "output"}},
        "http": {"endpoint": f"{url}/pay"},
    }


def acknowledge(call: Call) -> tuple[int, dict]:
    return 202, {}


async def child_of(engine: Engine, parent: str) -> str:
    """The id of the parent's one child, once its flow step has started it."""

    async def started() -> str | None:
        state = await engine.get_flow(parent)
        items = state.executions["sub"].work_items
        return child_flow_id(state.id, "sub", next(iter(items))) if items else None

    child = await wait_until(started, "the sub-flow step started")
    await wait_until(lambda: exists(engine, child), f"child flow {child} started")
    return child


async def exists(engine: Engine, flow_id: str) -> bool:
    return bool(await engine.store.read(flow_aggregate(flow_id)))


async def test_the_parent_runs_its_child_and_takes_its_outputs(engine: Engine):
    for step in (DOUBLE, sub(["double"])):
        await engine.register_step(step)
    await engine.start_flow(["sub"], {"x": 4}, flow_id="p")
    parent = await engine.wait_flow("p", timeout=10)
    assert parent.status is FlowStatus.COMPLETED
    assert list(parent.plan.steps) == ["sub"]
    assert {n: a.value for n, a in parent.attributes.items()} == {"x": 4, "y": 8}
    (token,) = parent.executions["sub"].work_items
    child_id = child_flow_id("p", "sub", token)
    child = await engine.wait_flow(child_id, timeout=10)
    assert child.status is FlowStatus.COMPLETED
    assert child.parent == ParentRef("p", "sub", token)
    assert child.plan == parent.plan.children["sub"]
    assert sorted(f.id for f in await engine.list_flows()) == sorted(["p", child_id])
    explained = await engine.explain_flow(child_id)
    assert explained["steps"]["double"]["reason"] == "ran"


async def test_a_failed_child_fails_the_parent_step_with_its_error():
    async with Engine() as engine:
        broken = script_step("double", '(raise "no such function")', requires=["x"], outputs=["y"])
        for step in (broken, sub(["double"])):
            await engine.register_step(step)
        await engine.start_flow(["sub"], {"x": 4}, flow_id="p")
        parent = await engine.wait_flow("p", timeout=10)
        child = await engine.get_flow(
            child_flow_id("p", "sub", *parent.executions["sub"].work_items)
        )
    assert child.status is FlowStatus.FAILED
    assert parent.status is FlowStatus.FAILED
    assert parent.executions["sub"].error == child.error
    assert child.error.startswith("goal step 'double' failed")


async def test_canceling_the_parent_cancels_the_running_child():
    async with StepService(acknowledge) as service, Engine() as engine:
        for step in (waiting_step(service.url), sub(["pay"])):
            await engine.register_step(step)
        await engine.start_flow(["sub"], {"x": 4}, flow_id="p")
        child = await child_of(engine, "p")
        await wait_until(lambda: service.calls, "the child's step called")
        explained = (await engine.explain_flow("p"))["steps"]["sub"]
        assert explained["reason"] == "running"
        assert explained["detail"]["child_flows"] == [child]
        await engine.cancel_flow("p", "changed my mind", actor="ann")
        canceled = await engine.wait_flow(child, timeout=10)
        log = await engine.flow_events(child)

        async def item_failed() -> bool:
            state = await engine.get_flow("p")
            (item,) = state.executions["sub"].work_items.values()
            return item.status is WorkStatus.FAILED and item.error == CHILD_CANCELED

        await wait_until(item_failed, "the parent's item failed with its canceled child")
    assert canceled.status is FlowStatus.CANCELED
    (event,) = [e for e in log if e["type"] == "flow_canceled"]
    assert event["data"] == {"flow_id": child, "actor": "ann", "reason": "parent flow 'p' canceled"}


async def test_a_failing_parent_cancels_the_child_of_another_branch():
    bad = script_step("bad", '(raise "no such function")', outputs=["w"])
    async with StepService(acknowledge) as service, Engine() as engine:
        for step in (waiting_step(service.url), sub(["pay"]), bad):
            await engine.register_step(step)
        await engine.start_flow(["sub", "bad"], {"x": 4}, flow_id="p")
        parent = await engine.wait_flow("p", timeout=10)
        child = await engine.wait_flow(await child_of(engine, "p"), timeout=10)
        log = await engine.flow_events(child.id)
    assert parent.status is FlowStatus.FAILED
    assert child.status is FlowStatus.CANCELED
    (event,) = [e for e in log if e["type"] == "flow_canceled"]
    assert event["data"]["reason"] == "parent flow 'p' failed"


async def test_pausing_the_parent_leaves_the_child_running():
    async with StepService(acknowledge) as service, Engine() as engine:
        for step in (waiting_step(service.url), sub(["pay"])):
            await engine.register_step(step)
        await engine.start_flow(["sub"], {"x": 4}, flow_id="p")
        child = await child_of(engine, "p")
        await wait_until(lambda: service.calls, "the child's step called")
        await engine.pause_flow("p")
        token = service.calls[0].headers["Argyll-Receipt-Token"]
        await engine.complete_work(child, "pay", token, Succeeded({"y": 8}))
        assert (await engine.wait_flow(child, timeout=10)).status is FlowStatus.COMPLETED

        async def settled() -> bool:
            state = await engine.get_flow("p")
            return state.executions["sub"].status is StepStatus.COMPLETED

        await wait_until(settled, "the paused parent's flow step settled")
        assert (await engine.get_flow("p")).status is FlowStatus.PAUSED
        await engine.resume_flow("p")
        done = await engine.wait_flow("p", timeout=10)
    assert done.status is FlowStatus.COMPLETED
    assert done.attributes["y"].value == 8


# ------------------------------------------------------------ outliving an engine


async def parent_waiting_on_child(store: str, service: StepService) -> tuple[str, str]:
    """Start parent ``p`` on an engine, leave it once its child waits on ``pay``; (child, token)."""
    async with Engine(store) as first:
        for step in (waiting_step(service.url), sub(["pay"])):
            await first.register_step(step)
        await first.start_flow(["sub"], {"x": 4}, flow_id="p")
        child = await child_of(first, "p")
        await wait_until(lambda: service.calls, "the child's step called")
    return child, service.calls[0].headers["Argyll-Receipt-Token"]


async def append_decided(store: EventStore, flow_id: str, decide: Any) -> None:
    """Decide on a flow straight from the store and append: another writer, no engine."""
    events = await store.read(flow_aggregate(flow_id))
    state = fold_flow(events)
    decision = decide(state, Context(state.last_updated, lambda: "unused"))
    await store.append(flow_aggregate(flow_id), state.version, decision.events, state.last_updated)


async def test_a_restart_mid_child_finishes_both_with_one_child(tmp_path):
    store = f"sqlite:///{tmp_path / 'argyll.db'}"
    async with StepService(acknowledge) as service:
        child, token = await parent_waiting_on_child(store, service)
        async with Engine(store) as second:
            await wait_until(lambda: len(service.calls) == 2, "the child's step called again")
            assert service.calls[1].headers["Argyll-Receipt-Token"] == token
            await second.complete_work(child, "pay", token, Succeeded({"y": 8}))
            parent = await second.wait_flow("p", timeout=10)
            flows = await second.list_flows()
    assert parent.status is FlowStatus.COMPLETED
    assert parent.attributes["y"].value == 8
    assert sorted(f.id for f in flows) == sorted(["p", child])


async def test_a_child_that_ended_while_no_engine_ran_reaches_its_parent(tmp_path):
    store = f"sqlite:///{tmp_path / 'argyll.db'}"
    async with StepService(acknowledge) as service:
        child, token = await parent_waiting_on_child(store, service)
        async with open_store(store) as raw:
            await append_decided(
                raw,
                child,
                lambda state, context: on_work_outcome(
                    state, "pay", token, Succeeded({"y": 8}), context
                ),
            )
        async with Engine(store) as second:
            parent = await second.wait_flow("p", timeout=10)
    assert parent.status is FlowStatus.COMPLETED
    assert parent.attributes["y"].value == 8
    assert len(service.calls) == 1


async def test_a_child_whose_parent_was_canceled_meanwhile_is_canceled_at_start(tmp_path):
    store = f"sqlite:///{tmp_path / 'argyll.db'}"
    async with StepService(acknowledge) as service:
        child, _ = await parent_waiting_on_child(store, service)
        async with open_store(store) as raw:
            await append_decided(
                raw, "p", lambda state, context: on_cancel(state, "ann", None, context)
            )
        async with Engine(store) as second:
            canceled = await second.wait_flow(child, timeout=10)
    assert canceled.status is FlowStatus.CANCELED
    assert canceled.executions["pay"].status is StepStatus.SKIPPED


async def test_a_survivor_takes_over_parent_and_child_of_a_killed_instance(redis_url: str):
    released = asyncio.Event()

    async def hold(call: Call) -> tuple[int, dict]:
        await released.wait()
        return 200, {"y": call.body["x"] * 2}

    async with StepService(hold) as service:
        survivor = Engine(redis_url, lease_ttl=1.0, heartbeat_interval=0.1, instance_id="survivor")
        async with survivor:
            process = await asyncio.create_subprocess_exec(
                *(sys.executable, str(WORKER), redis_url, service.url, "elsewhere:1:doomed", "1"),
                stdout=asyncio.subprocess.PIPE,
                env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
            )
            try:
                await wait_until(lambda: service.calls, "the doomed instance calling hold")
            finally:
                await kill(process)
            await wait_until(lambda: len(service.calls) == 2, "the survivor calling hold again")
            released.set()
            parent = await survivor.wait_flow("parent", timeout=20)
            (token,) = parent.executions["sub"].work_items
            child = await survivor.wait_flow(child_flow_id("parent", "sub", token), timeout=20)
            parent_log = await survivor.flow_events("parent")
            flows = await survivor.list_flows()
    assert parent.status is FlowStatus.COMPLETED
    assert parent.attributes["y"].value == 42
    assert child.status is FlowStatus.COMPLETED
    assert len(flows) == 2
    tokens = {call.headers["Argyll-Receipt-Token"] for call in service.calls}
    assert len(tokens) == 1, "the survivor re-ran the same item"
    claims = [e["data"]["instance"] for e in parent_log if e["type"] == "work_started"]
    assert claims == ["elsewhere:1:doomed", "survivor"]


async def test_a_child_missing_what_the_flow_step_maps_out_fails_the_item():
    """``x`` is optional for the flow step, required in the child: the child's step is
    skipped, the child completes without ``y``, and the flow step fails saying so."""
    async with Engine() as engine:
        for step in (DOUBLE, sub(["double"], x="optional", y="output")):
            await engine.register_step(step)
        await engine.start_flow(["sub"], {}, flow_id="p")
        parent = await engine.wait_flow("p", timeout=10)
    (token,) = parent.executions["sub"].work_items
    child = child_flow_id("p", "sub", token)
    assert parent.status is FlowStatus.FAILED
    assert parent.executions["sub"].error == f"child flow {child!r} did not produce 'y'"


async def test_a_child_started_as_its_parent_was_canceled_is_canceled_too():
    """The parent's cancel found no child to cancel (not started yet): the start does it."""
    async with Engine() as engine:
        for step in (DOUBLE, sub(["double"])):
            await engine.register_step(step)
        await engine.start_flow(["sub"], {"x": 4}, flow_id="p")
        await engine.wait_flow("p", timeout=10)
        done = await engine.get_flow("p")
    (token,) = done.executions["sub"].work_items
    canceled = replace(done, status=FlowStatus.CANCELED)
    calls: list[tuple[str, ...]] = []

    async def load(flow_id: str) -> FlowState:
        return canceled

    async def start(child: ChildFlow) -> None:
        calls.append(("start", child.flow_id))

    async def wait(flow_id: str) -> FlowState:
        return replace(canceled, id=flow_id, status=FlowStatus.CANCELED)

    async def cancel(flow_id: str, reason: str, actor: str) -> None:
        calls.append(("cancel", flow_id, reason))

    runner = SubflowRunner(load, start, wait, cancel, BackgroundTasks())
    step = done.plan.steps["sub"]
    outcome = await runner.run(RunWork(FlowID("p"), step, token, {"x": 4}))
    child = child_flow_id("p", "sub", token)
    assert calls == [("start", child), ("cancel", child, "parent flow 'p' canceled")]
    assert outcome == Failed(CHILD_CANCELED)


async def test_inputs_and_outputs_are_mapped_by_their_child_names():
    """The flow step's ``amount`` is the child's ``qty``, the child's ``net`` its ``total``;
    a step after the flow step reads ``total`` (nothing else in the parent makes it)."""
    price = script_step("price", "{:net (* qty 5)}", requires=["qty"], outputs=["net"])
    pricing = {
        "id": "pricing",
        "type": "flow",
        "flow": {"goals": ["price"]},
        "attributes": {
            "amount": {"role": "required", "required": {"mapping": {"name": "qty"}}},
            "total": {"role": "output", "output": {"mapping": {"name": "net"}}},
        },
    }
    after = script_step("after", "{:z (+ total 1)}", requires=["total"], outputs=["z"])
    async with Engine() as engine:
        for step in (price, pricing, after):
            await engine.register_step(step)
        await engine.start_flow(["after"], {"amount": 3}, flow_id="p")
        parent = await engine.wait_flow("p", timeout=10)
        (token,) = parent.executions["pricing"].work_items
        child = await engine.get_flow(child_flow_id("p", "pricing", token))
    assert sorted(parent.plan.steps) == ["after", "pricing"]
    assert {n: a.value for n, a in parent.attributes.items()} == {"amount": 3, "total": 15, "z": 16}
    assert child.init == {"qty": 3}
    assert child.attributes["net"].value == 15
