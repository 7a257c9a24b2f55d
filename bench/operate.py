"""Operating flows: explain on a long flow, and how fast a cancel stops a busy flow.

Run: python -m bench.operate [--flows 500] [--store memory|sqlite]. Prints one line per figure.

explain: a flow of 1,000 steps (100 chains of 10) driven through the deciders,
every attempt failing twice before it succeeds, stopped at its 10,000th event
(most steps ran, the rest are running, due for a retry or waiting for inputs).
``explain`` is timed on the folded state and the events, as the engine calls
it; the fold of the same events and a bare pass over them (the least any
function of the events costs) are timed beside it.

cancel: 500 flows of a long chain on an in-process engine, each work item a
fake one that takes a few milliseconds; once every flow is running work, each
is canceled in turn while the others keep running. The figure is the latency
of ``cancel_flow``; once it has returned nothing of the flow may start (no
``step_started`` or ``work_started`` after its ``flow_canceled``), checked on
the stored events once the work in flight has answered. The ceiling is the
store's own append of the same batch (``flow_canceled`` and the skipped steps),
timed on a quiet store of the same kind.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from argyll import ConflictError, Engine
from argyll.apply import fold_flow
from argyll.decide import (
    Context,
    Decision,
    NotCompleted,
    Outcome,
    RunWork,
    Succeeded,
    on_start,
    on_wake,
    on_work_outcome,
)
from argyll.events import Event, FlowCanceled, StepSkipped, flow_aggregate
from argyll.explain import explain
from argyll.model import FlowID, StepID
from argyll.planner import plan
from argyll.store import open_store
from argyll.testing import FakeClock, counter_tokens, wait_until
from bench.core import CHAIN, chain_catalog

STEPS, EVENTS = 1_000, 10_000
FAILURES_PER_ITEM = 2
CANCEL_CHAIN = 40
PACE = 0.001
"""Seconds between two cancels: the other flows run on meanwhile."""
AGGREGATE = flow_aggregate("long")


# ------------------------------------------------------------------ explain


class LongFlow:
    """Drives one flow through the deciders, as the runtime would, keeping its events."""

    def __init__(self, steps: int) -> None:
        self.clock, self.tokens = FakeClock(), counter_tokens()
        self.log: list[Event] = []
        self.failures: Counter[str] = Counter()
        goals = [f"s{n}" for n in range(CHAIN - 1, steps, CHAIN)]
        self.work = self.take(
            on_start(FlowID("long"), plan(chain_catalog(steps), goals, {}), {}, self.context())
        )

    def context(self) -> Context:
        return Context(self.clock.now(), self.tokens, "bench")

    def take(self, decision: Decision) -> list[RunWork]:
        for data in decision.events:
            self.log.append(Event(AGGREGATE, len(self.log) + 1, self.clock.now(), data))
        assert decision.state is not None
        self.state = decision.state
        return [e for e in decision.effects if isinstance(e, RunWork)]

    def answer(self, run: RunWork) -> list[RunWork]:
        """Each item fails ``FAILURES_PER_ITEM`` times (transiently), then succeeds."""
        if self.failures[run.token] < FAILURES_PER_ITEM:
            self.failures[run.token] += 1
            outcome: Outcome = NotCompleted("503")
        else:
            outcome = Succeeded({name: 1 for name in run.step.outputs})
        return self.take(
            on_work_outcome(self.state, run.step.id, run.token, outcome, self.context())
        )

    def run_until(self, limit: int) -> list[Event]:
        """Answer work and fire due retries in rounds until the flow holds ``limit`` events or more
        (it stops between two decisions, as a stored log does)."""
        while len(self.log) < limit and not self.state.status.ended:
            started: list[RunWork] = []
            for run in self.work:
                if len(self.log) >= limit:
                    break
                started += self.answer(run)
            self.clock.advance(3_600_000)
            if len(self.log) < limit:
                started += self.take(on_wake(self.state, self.context()))
            self.work = started
        return self.log


def timed(function: Callable[[], object], repeats: int) -> list[float]:
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        runs.append(time.perf_counter() - start)
    return sorted(runs)


def bench_explain() -> None:
    events = LongFlow(STEPS).run_until(EVENTS)
    catalog = chain_catalog(STEPS)
    state = fold_flow(events)
    answer = explain(state, events, catalog)
    reasons = Counter(r.reason for r in answer.steps.values())

    def bare_pass() -> None:
        Counter(type(event.data) for event in events)

    explain_runs = timed(lambda: explain(state, events, catalog), 200)
    fold_runs = timed(lambda: fold_flow(events), 10)
    pass_runs = timed(bare_pass, 200)
    print(
        f"explain  {len(state.plan.steps)} steps, {len(events)} events  "
        f"median={statistics.median(explain_runs) * 1e3:.2f} ms  "
        f"p99={explain_runs[int(len(explain_runs) * 0.99) - 1] * 1e3:.2f} ms  "
        f"(goal <= 10 ms; reasons: {dict(sorted(reasons.items()))})"
    )
    print(
        f"explain  fold of the same events (not part of explain: the engine holds the state)  "
        f"median={statistics.median(fold_runs) * 1e3:.1f} ms"
    )
    print(
        f"explain  ceiling: one bare pass over the events  "
        f"median={statistics.median(pass_runs) * 1e3:.2f} ms"
    )


# ------------------------------------------------------------------- cancel


class SlowWork:
    """A work runner whose every item takes a few milliseconds and succeeds."""

    def __init__(self, seconds: tuple[float, float], seed: int = 1) -> None:
        self.seconds, self.random = seconds, random.Random(seed)
        self.in_flight = self.answered = 0
        self.flows: set[FlowID] = set()

    async def run(self, effect: RunWork) -> Succeeded:
        self.in_flight += 1
        self.flows.add(effect.flow_id)
        try:
            await asyncio.sleep(self.random.uniform(*self.seconds))
        finally:
            self.in_flight -= 1
        self.answered += 1
        return Succeeded({name: 1 for name in effect.step.outputs})

    async def check_predicate(self, effect: object) -> tuple[bool, None]:
        return True, None


def cancel_chain() -> list[dict[str, Any]]:
    """Sync HTTP steps (the fake runner answers them): a cancel leaves their calls to answer."""
    steps = []
    for i in range(CANCEL_CHAIN):
        attributes: dict[str, Any] = {f"v{i}": {"role": "output"}}
        if i:
            attributes[f"v{i - 1}"] = {"role": "required"}
        http = {"endpoint": f"http://127.0.0.1:9/c{i}"}
        steps.append({"id": f"c{i}", "type": "sync", "attributes": attributes, "http": http})
    return steps


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


@dataclass
class Canceled:
    latencies: list[float]
    ended: int
    """Flows that completed before their turn came."""
    late: int
    """Steps or items started after their flow's cancel (none may be)."""
    load: float
    """Work items answered per second while the cancels ran."""


async def cancel_latencies(url: str, flows: int, seconds: tuple[float, float]) -> Canceled:
    """Cancel busy flows one by one, the others running on meanwhile."""
    work = SlowWork(seconds)
    async with Engine(url, work=work) as engine:  # type: ignore[arg-type]
        for definition in cancel_chain():
            await engine.register_step(definition)
        goal = [f"c{CANCEL_CHAIN - 1}"]
        ids = await asyncio.gather(*(engine.start_flow(goal) for _ in range(flows)))
        await wait_until(lambda: len(work.flows) == flows, "every flow to run work", timeout=120)
        random.Random(2).shuffle(ids)
        latencies, ended = [], 0
        began, answered = time.perf_counter(), work.answered
        for flow_id in ids:
            start = time.perf_counter()
            try:
                await engine.cancel_flow(flow_id, "bench")
            except ConflictError:  # it completed first
                ended += 1
                continue
            latencies.append(time.perf_counter() - start)
            await asyncio.sleep(PACE)
        load = (work.answered - answered) / (time.perf_counter() - began)
        await wait_until(lambda: work.in_flight == 0, "the work in flight to answer", timeout=60)
        late = 0
        for flow_id in ids:
            types = [event.type for event in await engine.store.read(flow_aggregate(flow_id))]
            if FlowCanceled.type in types:
                after = types[types.index(FlowCanceled.type) + 1 :]
                late += sum(t in ("step_started", "work_started") for t in after)
    return Canceled(latencies, ended, late, load)


async def append_ceiling(url: str, flows: int) -> list[float]:
    """The store appending a cancel's batch (flow_canceled + the skipped steps) to a quiet flow."""
    latencies = []
    batch = [FlowCanceled(FlowID("f"), "anonymous", "bench")] + [
        StepSkipped(FlowID("f"), StepID(f"c{i}"), "flow canceled") for i in range(CANCEL_CHAIN - 1)
    ]
    async with open_store(url) as store:
        for n in range(flows):
            aggregate = flow_aggregate(f"f{n}")
            await store.append(aggregate, 0, batch[:1], datetime.now())
            start = time.perf_counter()
            await store.append(aggregate, 1, batch, datetime.now())
            latencies.append(time.perf_counter() - start)
    return latencies


async def bench_cancel(flows: int, kind: str, seconds: tuple[float, float]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = "memory://" if kind == "memory" else f"sqlite:///{Path(tmp) / 'e.db'}"
        raw = "memory://" if kind == "memory" else f"sqlite:///{Path(tmp) / 'r.db'}"
        run = await cancel_latencies(url, flows, seconds)
        ceiling = await append_ceiling(raw, flows)
    times = run.latencies
    print(
        f"cancel  store={kind:<6} {flows} busy flows (items of {seconds[0] * 1e3:.0f}-"
        f"{seconds[1] * 1e3:.0f} ms, {run.load:.0f} answered/s meanwhile), one at a time  "
        f"p50={statistics.median(times) * 1e3:.2f} ms  p99={percentile(times, 0.99) * 1e3:.2f} ms  "
        f"max={max(times) * 1e3:.2f} ms  (goal p99 <= 100 ms)  "
        f"ended before their turn: {run.ended}; started after a cancel: {run.late}"
    )
    print(
        f"cancel  store={kind:<6} ceiling: the store appending the same batch, quiet  "
        f"p50={statistics.median(ceiling) * 1e3:.2f} ms  "
        f"p99={percentile(ceiling, 0.99) * 1e3:.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flows", type=int, default=500)
    parser.add_argument("--store", choices=["memory", "sqlite"], action="append")
    parser.add_argument(
        "--work-ms", default="50,500", help="how long each fake item takes: min,max (ms)"
    )
    args = parser.parse_args()
    low, high = (float(ms) / 1e3 for ms in args.work_ms.split(","))
    print(f"# bench/operate.py  {datetime.now().isoformat(timespec='minutes')}")
    bench_explain()
    for kind in args.store or ["memory", "sqlite"]:
        asyncio.run(bench_cancel(args.flows, kind, (low, high)))


if __name__ == "__main__":
    main()
