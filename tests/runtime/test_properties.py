"""Property: random acyclic catalogs plan exactly what goals need, and run to the direct values."""

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from argyll import Engine
from argyll.apply import fold_flow
from argyll.events import flow_aggregate
from argyll.model import FlowStatus
from argyll.testing import script_step

BASE_INPUTS = ["in0", "in1"]


@st.composite
def catalogs(draw):
    """Step i outputs a{i} = 1 + sum of its inputs; inputs come from earlier steps or init."""
    count = draw(st.integers(1, 8))
    requires = []
    for i in range(count):
        earlier = [f"a{j}" for j in range(i)] + BASE_INPUTS
        requires.append(draw(st.lists(st.sampled_from(earlier), unique=True, max_size=3)))
    goals = draw(st.lists(st.integers(0, count - 1), min_size=1, max_size=3, unique=True))
    given_middle = draw(st.lists(st.integers(0, count - 1), unique=True, max_size=2))
    init = {name: draw(st.integers(-5, 5)) for name in BASE_INPUTS}
    init.update({f"a{i}": draw(st.integers(100, 200)) for i in given_middle})
    return requires, [f"s{g}" for g in goals], init


def script(i: int, inputs: list[str]) -> str:
    return f"{{:a{i} (+ 1 {' '.join(inputs)})}}" if inputs else f"{{:a{i} 1}}"


def needed(requires, goals, init) -> set[str]:
    steps, queue = set(), list(goals)
    while queue:
        step = queue.pop()
        if step not in steps:
            steps.add(step)
            index = int(step[1:])
            queue += [f"s{n[1:]}" for n in requires[index] if n.startswith("a") and n not in init]
    return steps


def value(name, requires, init):
    if name in init:
        return init[name]
    return 1 + sum(value(n, requires, init) for n in requires[int(name[1:])])


async def run(requires, goals, init):
    async with Engine("memory://") as engine:
        for i, inputs in enumerate(requires):
            await engine.register_step(
                script_step(f"s{i}", script(i, inputs), requires=inputs, outputs=[f"a{i}"])
            )
        plan = engine.plan(goals, init)
        live = await engine.wait_flow(await engine.start_flow(goals, init), timeout=20)
        replayed = fold_flow(await engine.store.read(flow_aggregate(live.id)))
        return plan, live, replayed


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(catalogs())
def test_random_catalogs_plan_and_run_to_the_direct_values(case):
    requires, goals, init = case
    plan, live, replayed = asyncio.run(run(requires, goals, init))
    expected_steps = needed(requires, goals, init)
    assert set(plan.steps) == expected_steps
    assert set(live.plan.steps) == expected_steps
    assert live.status is FlowStatus.COMPLETED
    for step in expected_steps:
        name = f"a{step[1:]}"
        assert live.attributes[name].value == value(name, requires, init)
    assert replayed == live
