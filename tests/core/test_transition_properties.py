"""Property: whatever work answers, the deciders only make moves the transition tables allow.

Random acyclic catalogs (required and optional inputs, predicates, for_each,
typed outputs, retries) are driven through the deciders without an event loop:
work succeeds (with or without its output, of the right type or not), fails,
or does not complete; predicates say yes, no or break; timers fire; dead
instances' work is taken over; late and repeated results arrive. Every status
change of every decided event must be a legal move, and folding the decided
events must give the state the deciders carried live.
"""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from argyll.apply import FLOW_APPLIERS, fold, fold_flow
from argyll.decide import (
    Context,
    EvaluatePredicate,
    Failed,
    NotCompleted,
    Policy,
    RunWork,
    ScheduleWake,
    Succeeded,
    on_predicate,
    on_start,
    on_takeover,
    on_wake,
    on_work_outcome,
)
from argyll.events import Event, flow_aggregate
from argyll.planner import plan
from argyll.testing import FakeClock, catalog_of, counter_tokens, script_step
from argyll.transitions import (
    FLOW_TRANSITIONS,
    STEP_TRANSITIONS,
    WORK_TRANSITIONS,
    can_transition,
)

AGGREGATE = flow_aggregate("f")
INSTANCES = ["me", "other"]


@st.composite
def flows(draw):
    """Step i outputs a{i} from earlier outputs and init's ``in0`` / ``items``."""
    count = draw(st.integers(1, 6))
    steps = []
    for i in range(count):
        earlier = [f"a{j}" for j in range(i)]
        requires = draw(st.lists(st.sampled_from([*earlier, "in0"]), unique=True, max_size=2))
        optional = {
            name: draw(st.sampled_from([None, "7"]))
            for name in draw(st.lists(st.sampled_from([*earlier, "in0"]), unique=True, max_size=2))
            if name not in requires
        }
        fan = ["items"] if draw(st.booleans()) else []
        steps.append(
            script_step(
                f"s{i}",
                "1",
                requires=[*requires, *fan],
                optional=optional,
                outputs=[f"a{i}"],
                types={f"a{i}": "number"} if draw(st.booleans()) else None,
                for_each=fan,
                predicate="true" if draw(st.booleans()) else None,
                work_config={
                    "max_retries": draw(st.integers(0, 2)),
                    "init_backoff": 10,
                    "parallelism": draw(st.integers(1, 2)),
                },
            )
        )
    goals = draw(st.lists(st.sampled_from([f"s{i}" for i in range(count)]), min_size=1, max_size=3))
    items = draw(st.one_of(st.lists(st.integers(0, 9), max_size=3), st.just(3)))
    return steps, sorted(set(goals)), {"in0": 1, "items": items}


def status_moves(before, after):
    """Every (table, from, to) whose status differs between two states of a flow."""
    if before is None or before.status != after.status:
        yield FLOW_TRANSITIONS, before and before.status, after.status
    for step_id, execution in after.executions.items():
        was = before.executions[step_id] if before else None
        if was is None or was.status != execution.status:
            yield STEP_TRANSITIONS, was and was.status, execution.status
        for token, item in execution.work_items.items():
            old = was.work_items.get(token) if was else None
            if old is None or old.status != item.status:
                yield WORK_TRANSITIONS, old and old.status, item.status


class Driver:
    """Plays the runtime: appends each decision's events, keeps its effects pending."""

    def __init__(self, steps, goals, init):
        self.clock, self.tokens = FakeClock(), counter_tokens()
        self.log, self.live, self.folded = [], None, None
        self.work, self.predicates, self.wakes = {}, {}, []
        self.take(on_start("f", plan(catalog_of(*steps), goals, init), init, self.context("me")))

    def context(self, instance):
        return Context(self.clock.now(), self.tokens, instance, Policy(max_retries=2))

    def take(self, decision):
        assert decision.expected == len(self.log)
        for data in decision.events:
            event = Event(AGGREGATE, len(self.log) + 1, self.clock.now(), data)
            before = self.folded
            self.folded = (
                fold_flow([event]) if before is None else fold(before, [event], FLOW_APPLIERS)
            )
            for table, source, target in status_moves(before, self.folded):
                assert can_transition(table, source, target), (event.type, source, target)
            self.log.append(event)
        self.live = decision.state
        assert self.folded == self.live
        for effect in decision.effects:
            if isinstance(effect, RunWork):
                self.work[effect.step.id, effect.token] = effect
            elif isinstance(effect, EvaluatePredicate):
                self.predicates[effect.step.id] = effect
            elif isinstance(effect, ScheduleWake):
                self.wakes.append(effect.at)

    def actions(self):
        """What can happen next; nothing once no work, predicate or timer is outstanding."""
        todo = {"outcome": self.work, "predicate": self.predicates, "wake": self.wakes}
        pending = [name for name, outstanding in todo.items() if outstanding]
        late = ["late"] if any(e.work_items for e in self.live.executions.values()) else []
        return [*pending, *late, "takeover"] if pending else []

    def act(self, action, draw):
        if action == "outcome":
            run = self.work.pop(draw(st.sampled_from(sorted(self.work))))
            self.answer(run.step.id, run.token, draw)
        elif action == "late":
            items = self.live.executions.items()
            step_id, token = draw(st.sampled_from([(s, t) for s, e in items for t in e.work_items]))
            self.answer(step_id, token, draw)
        elif action == "predicate":
            step_id = draw(st.sampled_from(sorted(self.predicates)))
            del self.predicates[step_id]
            result, error = draw(st.sampled_from([(True, None), (False, None), (False, "boom")]))
            self.take(on_predicate(self.live, step_id, result, error, self.context("me")))
        elif action == "wake":
            due = min(self.wakes)
            self.wakes.remove(due)
            self.clock.current = max(self.clock.current, due)
            self.take(on_wake(self.live, self.context("me")))
        else:
            dead, heir = draw(st.permutations(INSTANCES))
            self.take(on_takeover(self.live, self.context(heir), lambda owner: owner == dead))

    def answer(self, step_id, token, draw):
        outcome = draw(
            st.sampled_from(
                [
                    Succeeded({f"a{step_id[1:]}": 1}),
                    Succeeded({f"a{step_id[1:]}": "not a number"}),
                    Succeeded({}),
                    Failed("bad request"),
                    NotCompleted("503"),
                    NotCompleted("timeout"),
                ]
            )
        )
        instance = draw(st.sampled_from(INSTANCES))
        self.take(on_work_outcome(self.live, step_id, token, outcome, self.context(instance)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flows(), st.data())
def test_decided_events_make_only_legal_moves_and_fold_to_the_live_state(case, data):
    driver = Driver(*case)
    for _ in range(60):
        actions = driver.actions()
        if not actions:
            break
        driver.act(data.draw(st.sampled_from(actions)), data.draw)
    assert fold_flow(driver.log) == driver.live
