"""Property: an Engine operated at random while its work answers at random keeps every rule.

A real in-process Engine on the memory store runs one flow of a random
catalog; its work runner is a fake whose every attempt waits until the test
answers it (success, permanent or transient failure). In between, the test
pauses, resumes, cancels, retries, completes or skips steps by hand, and
repeats results for items that already answered (a webhook sent twice, a late
one). After each action, once the engine has settled:

- the engine's live state is the fold of the stored events, and the fold makes
  only legal moves (the appliers check each one; the moves are listed here too);
- no ``step_started`` or ``work_started`` is stored unless the flow was active,
  so nothing starts while it is paused or after a cancel until a retry; every
  attempt the runner was handed has its ``work_started`` stored first;
- no token has two ``work_succeeded``, and a success for a step that had ended is
  recorded alone: no attribute is set from it;
- an action the status refuses raises ConflictError (a bad step or outputs,
  ValidationError or NotFoundError) and stores nothing.
"""

import asyncio
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from argyll import ConflictError, Engine, NotFoundError, ValidationError
from argyll.apply import FLOW_APPLIERS, fold, fold_flow
from argyll.decide import Failed, NotCompleted, RunWork, Succeeded
from argyll.events import flow_aggregate
from argyll.model import FlowStatus, StepStatus
from argyll.testing import script_step, wait_until
from argyll.transitions import FLOW_TRANSITIONS, STEP_TRANSITIONS, WORK_TRANSITIONS, can_transition

KINDS = [*["answer"] * 3, "repeat", "pause", "resume", "cancel", "complete", "skip", "retry"]
OUTCOMES = ["success", "success", "failure", "transient"]


@st.composite
def catalogs(draw):
    """Step i outputs a{i} from earlier outputs and ``in0``, maybe once per item of ``items``."""
    count = draw(st.integers(1, 4))
    steps = []
    for i in range(count):
        earlier = [f"a{j}" for j in range(i)]
        requires = draw(st.lists(st.sampled_from([*earlier, "in0"]), unique=True, max_size=2))
        fan = ["items"] if draw(st.booleans()) else []
        config = {"max_retries": draw(st.integers(1, 2)), "init_backoff": 1}
        steps.append(
            script_step(
                f"s{i}",
                "1",
                requires=[*requires, *fan],
                outputs=[f"a{i}"],
                for_each=fan,
                work_config={**config, "backoff_type": "fixed", "parallelism": 1},
            )
        )
    goals = draw(st.lists(st.sampled_from([f"s{i}" for i in range(count)]), min_size=1))
    return steps, sorted(set(goals))


class HeldWork:
    """A work runner whose attempts wait until the test answers them, in any order.

    Attempts are told apart by the order they came in: one token can have two at
    once (a result repeated for a token whose retry is running starts another).
    """

    def __init__(self) -> None:
        self.waiting: dict[int, tuple[RunWork, asyncio.Future]] = {}
        self.handed = 0

    async def run(self, effect: RunWork):
        self.handed += 1
        attempt = self.handed
        future = asyncio.get_running_loop().create_future()
        self.waiting[attempt] = (effect, future)
        try:
            return await future
        finally:
            self.waiting.pop(attempt, None)

    async def check_predicate(self, effect):
        return True, None

    def held(self) -> list[int]:
        """The attempts still waiting (a cancel stops a script's attempt)."""
        return sorted(attempt for attempt, (_, future) in self.waiting.items() if not future.done())

    def answer(self, pick: int, outcome: str) -> tuple[str, str] | None:
        """Answer one held attempt; its (step, token), or None when none is held."""
        held = self.held()
        if not held:
            return None
        effect, future = self.waiting.pop(held[pick % len(held)])
        future.set_result(result(effect.step.id, outcome))
        return effect.step.id, effect.token


def result(step_id: str, outcome: str):
    return {
        "success": Succeeded({f"a{step_id[1:]}": 1}),
        "failure": Failed("bad request"),
        "transient": NotCompleted("503"),
    }[outcome]


def background(engine: Engine) -> int:
    return len(engine._tasks._tasks)


async def settle(engine: Engine, work: HeldWork, own: int) -> None:
    """Wait until the engine has nothing left to do but wait for the held attempts.

    ``own``: the engine's background tasks with no flow (its lease keeper, health watch).
    """

    def quiet() -> bool:
        busy = background(engine) - own
        return busy == len(work.held()) and not len(engine._dispatch._timers)

    await wait_until(quiet, "the engine to settle", timeout=10, interval=0.002)


def check_log(events, work: HeldWork) -> None:
    state = None
    succeeded: Counter[str] = Counter()
    late_steps: set[str] = set()
    started = 0
    for event in events:
        data = event.data
        if event.type in ("step_started", "work_started"):
            assert state.status is FlowStatus.ACTIVE, (event.seq, event.type, state.status)
            started += event.type == "work_started"
        if event.type == "work_succeeded":
            succeeded[data.token] += 1
            if state.executions[data.step_id].status is not StepStatus.ACTIVE:
                late_steps.add(data.step_id)
        if event.type == "attribute_set":
            assert data.step_id not in late_steps, ("set from a late result", event.seq)
        if event.type == "flow_retried":
            late_steps -= set(data.steps)
        after = fold_flow([event]) if state is None else fold(state, [event], FLOW_APPLIERS)
        for table, source, target in moves(state, after):
            assert can_transition(table, source, target), (event.type, source, target)
        state = after
    assert all(count == 1 for count in succeeded.values()), succeeded
    assert work.handed == started


def moves(before, after):
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


async def operate(engine, flow_id, kind, pick, outcome):
    """Perform one operator action; returns the error class the status should give, or None."""
    state = fold_flow(await engine.store.read(flow_aggregate(flow_id)))
    steps = [*state.plan.steps, "nope"]
    step_id = steps[pick % len(steps)]
    match kind:
        case "pause":
            expected = None if state.status is FlowStatus.ACTIVE else ConflictError
            call = engine.pause_flow(flow_id, "ops")
        case "resume":
            expected = None if state.status is FlowStatus.PAUSED else ConflictError
            call = engine.resume_flow(flow_id)
        case "cancel":
            expected = ConflictError if state.status.ended else None
            call = engine.cancel_flow(flow_id, "ops")
        case "complete":
            outputs = {f"a{step_id[1:]}": 2} if outcome != "failure" else {"zz": 1}
            expected = by_hand_refusal(state, step_id, outputs)
            call = engine.complete_step(flow_id, step_id, outputs, "ops")
        case "skip":
            expected = by_hand_refusal(state, step_id, None)
            call = engine.skip_step(flow_id, step_id, "ops")
        case _:
            retried = () if outcome == "success" else (step_id,)
            expected = retry_refusal(state, retried)
            call = engine.retry_flow(flow_id, retried, reason="ops")
    return expected, call


def by_hand_refusal(state, step_id, outputs):
    if step_id not in state.plan.steps:
        return NotFoundError
    if state.status.ended or state.executions[step_id].status.ended:
        return ConflictError
    if outputs is not None and any(
        name not in state.plan.steps[step_id].outputs for name in outputs
    ):
        return ValidationError
    return None


def retry_refusal(state, steps):
    if state.status not in (FlowStatus.FAILED, FlowStatus.CANCELED):
        return ConflictError
    for step_id in steps:
        if (
            step_id not in state.plan.steps
            or state.executions[step_id].status is StepStatus.COMPLETED
        ):
            return ValidationError
    return None


async def run(catalog, goals, actions):
    work = HeldWork()
    async with Engine("memory://", work=work, health_interval=3600) as engine:
        for definition in catalog:
            await engine.register_step(definition)
        own = background(engine)
        flow_id = await engine.start_flow(goals, {"in0": 1, "items": [1, 2, 3]})
        answered: list[tuple[str, str]] = []
        for kind, pick, outcome in actions:
            await settle(engine, work, own)
            before = await engine.store.read(flow_aggregate(flow_id))
            if kind == "answer":
                if (item := work.answer(pick, outcome)) is not None:
                    answered.append(item)
            elif kind == "repeat":
                if answered:
                    step_id, token = answered[pick % len(answered)]
                    try:
                        await engine.complete_work(
                            flow_id, step_id, token, result(step_id, outcome)
                        )
                    except NotFoundError:  # the item a retry replaced: nothing to record
                        assert await engine.store.read(flow_aggregate(flow_id)) == before
            else:
                expected, call = await operate(engine, flow_id, kind, pick, outcome)
                try:
                    await call
                except (ConflictError, ValidationError, NotFoundError) as error:
                    assert type(error) is expected, (kind, error)
                    assert await engine.store.read(flow_aggregate(flow_id)) == before
                else:
                    assert expected is None, (kind, expected)
            await settle(engine, work, own)
            events = await engine.store.read(flow_aggregate(flow_id))
            assert fold_flow(events) == await engine.get_flow(flow_id)
            check_log(events, work)


ACTIONS = st.lists(
    st.tuples(st.sampled_from(KINDS), st.integers(0, 7), st.sampled_from(OUTCOMES)),
    min_size=5,
    max_size=30,
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(catalogs(), ACTIONS)
def test_operating_an_engine_while_its_work_answers_keeps_every_rule(case, actions):
    asyncio.run(run(*case, actions))
