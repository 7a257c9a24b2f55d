"""Property: random catalogs with mappings both ways run to the values of a direct evaluation,
and the replayed log folds to the live state."""

import asyncio
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from argyll import Engine
from argyll.apply import fold_flow
from argyll.events import flow_aggregate
from argyll.model import FlowStatus

BASE_INPUTS = ["in0", "in1"]
DOUBLE = {"ale": "(* value 2)", "lua": "return value * 2", "jpath": "$"}
"""Each language's input script and what it does: Ale and Lua double, jpath keeps the value."""
FACTOR = {"ale": 2, "lua": 2, "jpath": 1}


@dataclass(frozen=True)
class Input:
    name: str
    renamed: bool
    language: str | None


@dataclass(frozen=True)
class StepCase:
    inputs: tuple[Input, ...]
    bonus: int
    """A const added to the sum; init overrides it when ``overridden``."""
    overridden: bool
    out_renamed: bool
    out_plus: bool
    """The output mapping adds ten (Lua) to what the script answered."""


@st.composite
def catalogs(draw):
    count = draw(st.integers(1, 6))
    steps = []
    for i in range(count):
        earlier = [f"a{j}" for j in range(i)] + BASE_INPUTS
        names = draw(st.lists(st.sampled_from(earlier), unique=True, max_size=3))
        inputs = tuple(
            Input(n, draw(st.booleans()), draw(st.sampled_from([None, *DOUBLE]))) for n in names
        )
        steps.append(
            StepCase(
                inputs,
                draw(st.integers(0, 3)),
                draw(st.booleans()),
                draw(st.booleans()),
                draw(st.booleans()),
            )
        )
    goals = draw(st.lists(st.integers(0, count - 1), min_size=1, max_size=2, unique=True))
    init = {name: draw(st.integers(-5, 5)) for name in BASE_INPUTS}
    return steps, [f"s{g}" for g in goals], init


def inner(i: int, spec: Input) -> str:
    return f"v{i}_{spec.name}" if spec.renamed else spec.name


def definition(i: int, case: StepCase) -> dict:
    attributes: dict = {}
    for spec in case.inputs:
        mapping: dict = {}
        if spec.renamed:
            mapping["name"] = inner(i, spec)
        if spec.language:
            mapping["script"] = {"language": spec.language, "script": DOUBLE[spec.language]}
        attributes[spec.name] = {"role": "required", "type": "number"}
        if mapping:
            attributes[spec.name]["required"] = {"mapping": mapping}
    attributes[f"bonus{i}"] = {
        "role": "const",
        "type": "number",
        "const": {"value": str(case.bonus)},
    }
    out: dict = {}
    if case.out_renamed:
        out["name"] = "answer"
    if case.out_plus:
        # with no name, the script reads the whole reply
        plus = "value + 10" if case.out_renamed else f"value.a{i} + 10"
        out["script"] = {"language": "lua", "script": f"return {plus}"}
    answer = "answer" if case.out_renamed else f"a{i}"
    attributes[f"a{i}"] = {
        "role": "output",
        "type": "number",
        **({"output": {"mapping": out}} if out else {}),
    }
    total = " ".join([f"bonus{i}", *(inner(i, spec) for spec in case.inputs)])
    return {
        "id": f"s{i}",
        "type": "script",
        "attributes": attributes,
        "script": {"language": "ale", "script": f"{{:{answer} (+ 1 {total})}}"},
    }


def init_of(steps, base):
    return {**base, **{f"bonus{i}": 100 for i, case in enumerate(steps) if case.overridden}}


def value(name, steps, init):
    if name in init:
        return init[name]
    i = int(name[1:])
    case = steps[i]
    bonus = init.get(f"bonus{i}", case.bonus)
    total = 1 + bonus
    total += sum(FACTOR.get(s.language, 1) * value(s.name, steps, init) for s in case.inputs)
    return total + 10 if case.out_plus else total


async def run(steps, goals, init):
    async with Engine("memory://") as engine:
        for i, case in enumerate(steps):
            await engine.register_step(definition(i, case))
        live = await engine.wait_flow(await engine.start_flow(goals, init), timeout=20)
        replayed = fold_flow(await engine.store.read(flow_aggregate(live.id)))
        return live, replayed


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(catalogs())
def test_mapped_catalogs_run_to_the_direct_values(case):
    steps, goals, base = case
    init = init_of(steps, base)
    live, replayed = asyncio.run(run(steps, goals, init))
    assert live.status is FlowStatus.COMPLETED, live.error
    for goal in goals:
        name = f"a{goal[1:]}"
        assert live.attributes[name].value == value(name, steps, init)
    assert replayed == live
