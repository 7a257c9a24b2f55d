"""Property: with random collect modes, matches and provider outcomes in a random order, a
consumer runs with exactly the values a direct evaluation gives, and replay equals live state."""

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from argyll.apply import FLOW_APPLIERS, fold, fold_flow
from argyll.decide import Context, Failed, Policy, RunWork, Succeeded, on_start, on_work_outcome
from argyll.events import Event, flow_aggregate
from argyll.model import FlowStatus, ScriptConfig, StepStatus
from argyll.planner import plan
from argyll.runtime.scripts import ScriptRunner
from argyll.testing import FakeClock, catalog_of, counter_tokens, script_step

MODES = ["first", "last", "some", "all", "none"]
OUTCOMES = {"ok": None, "fail": Failed("boom"), "nothing": Succeeded({})}
ENDED_EARLY = (StepStatus.SKIPPED, StepStatus.FAILED)


RUNNER = ScriptRunner()


def evaluate(config: ScriptConfig, bindings: Any) -> bool:
    """A match gate's truth, as the runtime tests it (Ale, Lua, jpath)."""
    return RUNNER.test(config, bindings)


@st.composite
def cases(draw):
    """Providers of x0..x2 (each a value and an outcome), a consumer's inputs, an order."""
    names = [f"x{k}" for k in range(draw(st.integers(1, 3)))]
    providers = [
        (f"p{i}", name, draw(st.integers(0, 9)), draw(st.sampled_from(sorted(OUTCOMES))))
        for i, name in enumerate(n for n in names for _ in range(draw(st.integers(0, 3))))
    ]
    inputs = {}
    for name in draw(st.lists(st.sampled_from(names), unique=True, min_size=1)):
        provided = any(p[1] == name for p in providers)
        mode = draw(st.sampled_from(MODES))
        required = draw(st.booleans()) and (provided or mode == "none")
        threshold = draw(st.one_of(st.none(), st.integers(0, 9))) if required else None
        default = draw(st.one_of(st.none(), st.just(-1))) if not required else None
        inputs[name] = (required, mode, threshold, default)
    order = draw(st.permutations(range(len(providers))))
    return providers, inputs, order


def definitions(providers, inputs):
    steps = [script_step(step_id, "{}", outputs=[name]) for step_id, name, _, _ in providers]
    consumer = script_step("c", "{:done true}", outputs=["done"])
    for name, (required, mode, threshold, default) in inputs.items():
        role = "required" if required else "optional"
        settings_: dict[str, Any] = {"collect": mode}
        if threshold is not None:
            settings_["match"] = {"language": "ale", "script": f"(> value {threshold})"}
        if default is not None:
            settings_["default"] = str(default)
        consumer["attributes"][name] = {"role": role, role: settings_}
    return [*steps, consumer]


def direct(providers, inputs, order):
    """What the consumer should get: ('run', inputs) or ('end', names that can be why)."""
    done = [providers[i] for i in order]
    values, lost = {}, set()
    for name, (required, mode, threshold, default) in inputs.items():
        mine = [p for p in done if p[1] == name]
        produced = [value for _, _, value, outcome in mine if outcome == "ok"]
        matched = [v for v in produced if threshold is None or v > threshold]
        refused = len(produced) - len(matched)
        every_one = all(outcome == "ok" for *_, outcome in mine)
        settled = {
            "first": matched[:1] and [matched[0]],
            "last": matched[-1:],
            "some": matched and [matched],
            "all": [matched] if matched and every_one and not refused else [],
            "none": [],
        }[mode]
        if mode == "none" and matched:
            lost.add(name)
        elif settled:
            values[name] = settled[0]
        elif required and mode != "none":
            lost.add(name)
        elif default is not None:
            values[name] = default
    return ("end", lost) if lost else ("run", values)


class Driver:
    def __init__(self, providers, inputs):
        self.clock, self.tokens = FakeClock(), counter_tokens()
        self.outcomes = {step_id: (name, value, o) for step_id, name, value, o in providers}
        catalog = catalog_of(*definitions(providers, inputs))
        self.log, self.runs, self.state = [], {}, None
        self.take(on_start("f", plan(catalog, ["c"], {}), {}, self.context()))

    def context(self):
        return Context(self.clock.now(), self.tokens, "me", Policy(), test=evaluate)

    def take(self, decision):
        first = self.state.version if self.state else 0
        events = [
            Event(flow_aggregate("f"), first + i + 1, self.clock.now(), data)
            for i, data in enumerate(decision.events)
        ]
        self.log += events
        self.state = fold_flow(events) if first == 0 else fold(self.state, events, FLOW_APPLIERS)
        self.runs.update({e.step.id: e for e in decision.effects if isinstance(e, RunWork)})

    def finish(self, step_id):
        run = self.runs.pop(step_id, None)
        if run is None:
            return
        self.clock.advance(10)
        if step_id == "c":
            outcome = Succeeded({"done": True})
        else:
            name, value, kind = self.outcomes[step_id]
            outcome = OUTCOMES[kind] or Succeeded({name: value})
        self.take(on_work_outcome(self.state, step_id, run.token, outcome, self.context()))


@settings(max_examples=300, deadline=None)
@given(cases())
def test_a_consumer_gets_what_a_direct_evaluation_gives(case):
    providers, inputs, order = case
    flow = Driver(providers, inputs)
    for index in order:
        flow.finish(providers[index][0])
        flow.finish("c")
    flow.finish("c")
    execution = flow.state.executions["c"]
    kind, expected = direct(providers, inputs, order)
    if kind == "run":
        assert execution.status is StepStatus.COMPLETED
        assert dict(execution.inputs) == expected
        assert flow.state.status is FlowStatus.COMPLETED
    else:
        assert execution.status in ENDED_EARLY
        assert execution.unsatisfied and set(execution.unsatisfied) <= expected
    assert fold_flow(flow.log) == flow.state
