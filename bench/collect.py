"""Collect ``all`` over N providers: what collecting costs, beside the same flow without it.

Run: python -m bench.collect [--sizes 25,50,100,200] [--repeat 5]. For each N, one flow
of N providers and a consumer is driven through the deciders on a fake clock (no event
loop, no store: the core's own cost), in two shapes with the same steps and events:

- ``all``: every provider outputs ``x``; the consumer takes ``x`` with ``collect: all``;
- ceiling: provider i outputs ``x{i}``; the consumer requires the N attributes (Part 1).

It prints the whole flow's time, the consumer's last readiness check (N candidates) on
its own, and the engine's wall time for the ``all`` flow of script steps on memory.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from dataclasses import replace
from typing import Any

from argyll import Engine, collect
from argyll.apply import FLOW_APPLIERS, fold, fold_flow
from argyll.decide import Context, Policy, RunWork, Succeeded, on_start, on_work_outcome
from argyll.events import Event, flow_aggregate
from argyll.model import Catalog, Execution
from argyll.planner import plan
from argyll.testing import FakeClock, catalog_of, counter_tokens, script_step


def shapes(size: int) -> dict[str, list[dict[str, Any]]]:
    gathering = script_step("c", "{:done true}", outputs=["done"])
    gathering["attributes"]["x"] = {"role": "required", "required": {"collect": "all"}}
    names = [f"x{i}" for i in range(size)]
    return {
        "all": [
            *(script_step(f"p{i}", f"{{:x {i}}}", outputs=["x"]) for i in range(size)),
            gathering,
        ],
        "ceiling": [
            *(script_step(f"p{i}", f"{{:x{i} {i}}}", outputs=[n]) for i, n in enumerate(names)),
            script_step("c", "{:done true}", requires=names, outputs=["done"]),
        ],
    }


def drive(catalog: Catalog) -> tuple[float, Any]:
    """Seconds to run the flow through the deciders, and its final state."""
    clock, tokens = FakeClock(), counter_tokens()

    def context() -> Context:
        return Context(clock.now(), tokens, "me", Policy())

    begun = time.perf_counter()
    decision = on_start("f", plan(catalog, ["c"], {}), {}, context())
    state = fold_flow(_events(decision.events, 0, clock))
    runs = [e for e in decision.effects if isinstance(e, RunWork)]
    while runs:
        run = runs.pop(0)
        step = catalog.steps[run.step.id]
        outputs = {name: 1 for name in step.outputs}
        decision = on_work_outcome(state, run.step.id, run.token, Succeeded(outputs), context())
        state = fold(state, _events(decision.events, state.version, clock), FLOW_APPLIERS)
        runs += [e for e in decision.effects if isinstance(e, RunWork)]
    assert state.status.value == "completed"
    return time.perf_counter() - begun, state


def _events(data: list, version: int, clock: FakeClock) -> list[Event]:
    aggregate = flow_aggregate("f")
    return [Event(aggregate, version + i + 1, clock.now(), d) for i, d in enumerate(data)]


def readiness_time(state: Any, repeat: int = 200) -> float:
    step = state.plan.steps["c"]
    runs = []
    for _ in range(repeat):
        begun = time.perf_counter()
        collect.readiness(state, step, state.created_at, collect_none)
        runs.append(time.perf_counter() - begun)
    return statistics.median(runs)


def collect_none(config: Any, bindings: Any) -> Any:
    raise AssertionError("no match in this bench")


async def engine_time(size: int) -> float:
    async with Engine("memory://") as engine:
        for definition in shapes(size)["all"]:
            await engine.register_step(definition)
        begun = time.perf_counter()
        state = await engine.wait_flow(await engine.start_flow(["c"], {}), timeout=120)
        elapsed = time.perf_counter() - begun
    assert len(state.executions["c"].inputs["x"]) == size
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="25,50,100,200")
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    for size in map(int, options.sizes.split(",")):
        figures = {}
        for shape, definitions in shapes(size).items():
            catalog = catalog_of(*definitions)
            times = [drive(catalog)[0] for _ in range(options.repeat)]
            figures[shape] = statistics.median(times)
        _, finished = drive(catalog_of(*shapes(size)["all"]))
        check = readiness_time(_before_consumer(finished))
        wall = asyncio.run(engine_time(size))
        print(
            f"N={size:>4}  all: {figures['all'] * 1e3:7.2f} ms"
            f" ({figures['all'] / size * 1e6:6.1f} us/provider)"
            f"  ceiling: {figures['ceiling'] * 1e3:7.2f} ms"
            f"  ratio {figures['all'] / figures['ceiling']:.2f}"
            f"  last readiness: {check * 1e6:6.1f} us"
            f"  engine, memory: {wall * 1e3:7.1f} ms"
        )


def _before_consumer(state: Any) -> Any:
    """The state as the consumer's last check saw it: every provider done, ``c`` pending."""
    return replace(state, executions={**state.executions, "c": Execution()})


if __name__ == "__main__":
    main()
