"""The Engine end to end on the embedded stores, with script steps."""

import asyncio

import pytest

from argyll import ConflictError, Engine, MissingInputsError, NotFoundError, ValidationError
from argyll.model import FlowStatus, StepStatus
from argyll.testing import script_step

HELLO = script_step(
    "hello", '{:greeting (str "Hello, " name)}', requires=["name"], outputs=["greeting"]
)


async def test_readme_example_runs(engine: Engine):
    await engine.register_step(
        script_step(
            "price",
            "{:total (* quantity unit_price)}",
            requires=["quantity", "unit_price"],
            outputs=["total"],
            types={"quantity": "number", "unit_price": "number", "total": "number"},
        )
    )
    await engine.register_step(
        script_step(
            "receipt",
            "return {line = 'total ' .. total}",
            language="lua",
            requires=["total"],
            outputs=["line"],
        )
    )
    plan = engine.plan(["receipt"], {"quantity": 3, "unit_price": 2.5})
    assert set(plan.to_dict()["steps"]) == {"price", "receipt"}
    flow_id = await engine.start_flow(["receipt"], {"quantity": 3, "unit_price": 2.5})
    state = await engine.wait_flow(flow_id, timeout=10)
    assert state.status is FlowStatus.COMPLETED
    assert state.attributes["total"].value == 7.5
    assert state.attributes["line"].value == "total 7.5"
    data = state.to_dict()
    assert data["executions"]["price"]["status"] == "completed"
    assert data["attributes"]["total"] == {"value": 7.5, "step": "price"}
    events = await engine.flow_events(flow_id)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert all(e["data"]["flow_id"] == flow_id for e in events)
    assert events[0]["type"] == "flow_started"
    assert [e["type"] for e in events[-2:]] == ["flow_completed", "flow_deactivated"]


async def test_register_is_idempotent_and_conflicts_are_refused(engine: Engine):
    await engine.register_step(HELLO)
    version = engine.catalog.version
    await engine.register_step(HELLO)
    assert engine.catalog.version == version
    with pytest.raises(ConflictError):
        await engine.register_step({**HELLO, "name": "Other"})
    updated = await engine.update_step("hello", {**HELLO, "name": "Other"})
    assert engine.get_step("hello") == updated
    await engine.unregister_step("hello")
    with pytest.raises(NotFoundError):
        engine.get_step("hello")
    with pytest.raises(NotFoundError):
        await engine.unregister_step("hello")


async def test_flow_errors_are_typed(engine: Engine):
    await engine.register_step(HELLO)
    with pytest.raises(MissingInputsError) as caught:
        await engine.start_flow(["hello"], {})
    assert caught.value.inputs == ["name"]
    with pytest.raises(ValidationError):
        await engine.start_flow(["nope"], {"name": "x"})
    with pytest.raises(ValidationError):
        await engine.start_flow(["hello"], {"name": "x"}, flow_id="bad id")
    with pytest.raises(NotFoundError):
        await engine.get_flow("missing")
    with pytest.raises(NotFoundError):
        await engine.flow_events("missing")
    assert await engine.list_flows() == []


async def test_same_flow_request_is_idempotent_and_a_different_one_conflicts(engine: Engine):
    await engine.register_step(HELLO)
    first = await engine.submit_flow(["hello"], {"name": "a"}, flow_id="f-1")
    again = await engine.submit_flow(["hello"], {"name": "a"}, flow_id="f-1")
    assert (first.created, again.created) == (True, False)
    with pytest.raises(ConflictError):
        await engine.submit_flow(["hello"], {"name": "b"}, flow_id="f-1")
    state = await engine.wait_flow("f-1", timeout=10)
    assert state.attributes["greeting"].value == "Hello, a"


async def test_script_error_fails_the_flow_for_good(engine: Engine):
    await engine.register_step(script_step("boom", "(/ 1 0)", outputs=["x"]))
    state = await engine.wait_flow(await engine.start_flow(["boom"]), timeout=10)
    assert state.status is FlowStatus.FAILED
    execution = state.executions["boom"]
    assert execution.status is StepStatus.FAILED
    (item,) = execution.work_items.values()
    assert item.retry_count == 0
    assert "script error" in (execution.error or "")


async def test_predicates_and_for_each(engine: Engine):
    await engine.register_step(
        script_step(
            "double",
            "{:doubled (* n 2)}",
            requires=["n"],
            outputs=["doubled"],
            for_each=["n"],
            predicate="(not (empty? n))",
            work_config={"parallelism": 3},
        )
    )
    state = await engine.wait_flow(await engine.start_flow(["double"], {"n": [1, 2, 3, 4]}), 10)
    values = sorted(o["doubled"] for o in state.attributes["doubled"].value)
    assert values == [2, 4, 6, 8]
    skipped = await engine.wait_flow(await engine.start_flow(["double"], {"n": []}), 10)
    assert skipped.executions["double"].status is StepStatus.SKIPPED


async def test_many_flows_in_parallel_and_listing(engine: Engine):
    await engine.register_step(HELLO)
    ids = await asyncio.gather(*(engine.start_flow(["hello"], {"name": str(i)}) for i in range(50)))
    states = await asyncio.gather(*(engine.wait_flow(i, timeout=20) for i in ids))
    assert {s.attributes["greeting"].value for s in states} == {f"Hello, {i}" for i in range(50)}
    listed = await engine.list_flows(FlowStatus.COMPLETED)
    assert {f.id for f in listed} == set(ids)
    assert len(await engine.list_flows(limit=5)) == 5
    assert await engine.list_flows("active") == []


@pytest.mark.parametrize(
    ("source", "limit", "quick_timeout"),
    [
        ("while true do end", "instructions", 5),
        ('return (("a"):rep(2000)):find(".-.-b")', "seconds", 1),
    ],
    ids=["runaway-loop", "backtracking-pattern"],
)
async def test_a_hostile_script_is_cut_off_without_stalling_other_flows(
    engine: Engine, source: str, limit: str, quick_timeout: float
):
    await engine.register_step(script_step("hostile", source, language="lua", outputs=["x"]))
    await engine.register_step(HELLO)
    hostile = await engine.start_flow(["hostile"])
    quick = await engine.start_flow(["hello"], {"name": "q"})
    assert (await engine.wait_flow(quick, timeout=quick_timeout)).status is FlowStatus.COMPLETED
    state = await engine.wait_flow(hostile, timeout=10)
    assert state.status is FlowStatus.FAILED
    assert limit in (state.executions["hostile"].error or "")


async def test_wait_flow_times_out(engine: Engine):
    await engine.register_step(
        script_step("spin", "while true do end", language="lua", outputs=["x"])
    )
    flow_id = await engine.start_flow(["spin"])
    with pytest.raises(TimeoutError):
        await engine.wait_flow(flow_id, timeout=0.01)


async def test_asking_about_unknown_flows_leaves_nothing_behind(engine: Engine):
    from argyll.decide import Succeeded

    for i in range(20):
        with pytest.raises(NotFoundError):
            await engine.complete_work(f"ghost-{i}", "s", "t", Succeeded({}))
    assert engine._locks == {}
    with pytest.raises(NotFoundError):
        await engine.flow_status("ghost")


async def test_submit_step_says_whether_it_created(engine: Engine):
    first = await engine.submit_step(HELLO)
    again = await engine.submit_step(HELLO)
    assert (first.created, again.created) == (True, False)


async def test_long_pattern_scans_run_in_a_child_process(engine: Engine):
    script = """
        local text = string.rep("ab", n)
        local count = 0
        for _ = 1, 30000 do count = count + 1 end
        return {found = text:find("ba", 1, true), words = select(2, text:gsub("ab", "x"))}
    """
    await engine.register_step(
        script_step("scan", script, language="lua", requires=["n"], outputs=["found", "words"])
    )
    state = await engine.wait_flow(await engine.start_flow(["scan"], {"n": 1000}), timeout=10)
    assert state.status is FlowStatus.COMPLETED
    assert (state.attributes["found"].value, state.attributes["words"].value) == (2, 1000)
