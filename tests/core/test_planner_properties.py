"""Property: over random catalogs with sub-flows and rival providers, the plan is exactly
what the goals need, judged by a direct recursive reading of docs/concepts.md's rules,
and its JSON (as flow_started stores it) reads back to the same plan."""

from dataclasses import dataclass
from functools import cache

from hypothesis import given, settings
from hypothesis import strategies as st

from argyll.model.codec import plan_from_dict
from argyll.planner import plan
from argyll.testing import catalog_of, script_step

BASE = ["in0", "in1", "ext"]


@dataclass(frozen=True)
class Spec:
    """Step ``s{i}``: outputs ``a{level}`` (several steps may share a level), requires names
    of lower levels or BASE; a flow step runs goal ``s{goal}`` (a lower level) as its child."""

    requires: tuple[str, ...]
    level: int
    goal: int | None = None


@st.composite
def catalogs(draw):
    count = draw(st.integers(1, 10))
    specs: list[Spec] = []
    for i in range(count):
        level = i if i == 0 or draw(st.booleans()) else draw(st.integers(0, i - 1))
        lower = [f"a{k}" for k in range(level)] + BASE
        requires = tuple(draw(st.lists(st.sampled_from(lower), unique=True, max_size=3)))
        below = [j for j, spec in enumerate(specs) if spec.level < level]
        goal = draw(st.sampled_from(below)) if below and draw(st.booleans()) else None
        specs.append(Spec(requires, level, goal))
    goals = draw(st.lists(st.integers(0, count - 1), min_size=1, max_size=3, unique=True))
    given_names = draw(st.lists(st.sampled_from([*BASE, *(f"a{k}" for k in range(count))])))
    return tuple(specs), tuple(f"s{g}" for g in goals), frozenset(given_names)


def definition(i: int, spec: Spec, specs: tuple[Spec, ...]) -> dict:
    output = f"a{spec.level}"
    if spec.goal is None:
        return script_step(f"s{i}", "{}", requires=spec.requires, outputs=[output])
    inner = f"a{specs[spec.goal].level}"
    attributes = {name: {"role": "required"} for name in spec.requires}
    attributes[output] = {"role": "output", "output": {"mapping": {"name": inner}}}
    return {
        "id": f"s{i}",
        "type": "flow",
        "flow": {"goals": [f"s{spec.goal}"]},
        "attributes": attributes,
    }


@dataclass(frozen=True)
class Expected:
    steps: frozenset[str]
    required: frozenset[str]
    missing: frozenset[str]
    children: tuple[tuple[str, "Expected"], ...]


def oracle(specs: tuple[Spec, ...]):
    def providers(name: str) -> list[str]:
        return [f"s{i}" for i, s in enumerate(specs) if f"a{s.level}" == name]

    def spec_of(sid: str) -> Spec:
        return specs[int(sid[1:])]

    @cache
    def child(sid: str) -> Expected:
        spec = spec_of(sid)
        return planned((f"s{spec.goal}",), frozenset(spec.requires))

    @cache
    def runs(sid: str, have: frozenset[str]) -> bool:
        spec = spec_of(sid)
        inputs_ok = all(
            name in have or any(runs(p, have) for p in providers(name)) for name in spec.requires
        )
        return inputs_ok and (spec.goal is None or not child(sid).required)

    @cache
    def planned(goals: tuple[str, ...], have: frozenset[str]) -> Expected:
        steps: set[str] = set()
        required: set[str] = set()
        reached: set[str] = set()
        queue = list(goals)
        while queue:
            sid = queue.pop()
            if sid in steps:
                continue
            steps.add(sid)
            spec = spec_of(sid)
            if spec.goal is not None:
                required |= child(sid).required
            for name in spec.requires:
                if name in have:
                    continue
                rivals = providers(name)
                reached.update(rivals)
                queue += [p for p in rivals if runs(p, have)] or rivals
                if not rivals:
                    required.add(name)
        missing = frozenset(s for s in reached - steps if not runs(s, have))
        children = tuple(sorted((s, child(s)) for s in steps if spec_of(s).goal is not None))
        return Expected(frozenset(steps), frozenset(required), missing, children)

    return planned


def observed(result) -> Expected:
    return Expected(
        frozenset(result.steps),
        frozenset(result.required),
        frozenset(result.excluded.missing),
        tuple(sorted((sid, observed(c)) for sid, c in result.children.items())),
    )


def needed_by_someone(result, have) -> bool:
    """Every planned step but a goal gives a planned step an input init does not hold."""
    wanted = {n for s in result.steps.values() for n in s.inputs if n not in have}
    return all(
        sid in result.goals or set(step.outputs) & wanted for sid, step in result.steps.items()
    )


@settings(max_examples=300, deadline=None)
@given(catalogs())
def test_random_catalogs_with_sub_flows_plan_exactly_what_the_goals_need(case):
    specs, goals, have = case
    catalog = catalog_of(*(definition(i, s, specs) for i, s in enumerate(specs)))
    result = plan(catalog, goals, dict.fromkeys(have, 1))
    assert observed(result) == oracle(specs)(goals, have)
    assert needed_by_someone(result, have)
    assert not set(result.steps) & set(result.excluded.missing)
    assert plan_from_dict(result.to_dict()) == result
    for sid, child in result.children.items():
        assert needed_by_someone(child, set(result.steps[sid].inputs))
