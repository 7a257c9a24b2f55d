"""Planner figures: sub-flows three levels deep in a 10,000-step catalog, beside a flat plan.

Run: python -m bench.planner. Prints one line per figure; the goal is ≤ 1 ms for the
nested plan, and the time must follow what the goals reach, not the catalog's size.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import datetime

from argyll.apply import CATALOG_APPLIERS, fold
from argyll.events import CATALOG, Event, StepRegistered
from argyll.model import Catalog, Plan, parse_step
from argyll.planner import plan
from argyll.testing import FakeClock, script_step
from bench.core import CHAIN, chain_catalog

RUNS = 500
LEVELS = 3


def nested_catalog(steps: int) -> Catalog:
    """The chains of ``chain_catalog`` plus flow steps ``f1`` → ``f2`` → ``f3`` (each one's
    child runs the previous, ``f1``'s runs a chain) and a goal ``top`` that takes ``f3``'s
    output. Every flow step maps ``seed`` in, so each child plan starts from a given name.
    """
    base = chain_catalog(steps - LEVELS - 1)
    definitions = []
    inner, goal = "c0_9", "s9"
    for level in range(1, LEVELS + 1):
        definitions.append(
            {
                "id": f"f{level}",
                "type": "flow",
                "flow": {"goals": [goal]},
                "attributes": {
                    "seed": {"role": "required"},
                    f"out{level}": {"role": "output", "output": {"mapping": {"name": inner}}},
                },
            }
        )
        inner, goal = f"out{level}", f"f{level}"
    definitions.append(script_step("top", "{}", requires=[inner, "seed"], outputs=["done"]))
    now = FakeClock().now()
    events = [
        Event(CATALOG, base.version + n + 1, now, StepRegistered(parse_step(d)))
        for n, d in enumerate(definitions)
    ]
    return fold(base, events, CATALOG_APPLIERS)


def timed(make: Callable[[], Plan]) -> tuple[Plan, float, float]:
    runs = []
    for _ in range(RUNS):
        start = time.perf_counter()
        result = make()
        runs.append(time.perf_counter() - start)
    runs.sort()
    return result, statistics.median(runs) * 1e3, runs[int(RUNS * 0.99)] * 1e3


def depth(result: Plan) -> int:
    return 1 + max((depth(child) for child in result.children.values()), default=0)


def visited(result: Plan) -> int:
    return len(result.steps) + sum(visited(child) for child in result.children.values())


def main() -> None:
    print(f"# bench/planner.py  {datetime.now().isoformat(timespec='minutes')}")
    for size in (1_000, 10_000):
        catalog = nested_catalog(size)
        flat, flat_median, flat_p99 = timed(lambda c=catalog: plan(c, ["s9"], {}))
        nested, median, p99 = timed(lambda c=catalog: plan(c, ["top"], {"seed": 1}))
        assert len(flat.steps) == CHAIN
        assert depth(nested) == LEVELS + 1 and nested.required == ()
        print(
            f"plan  catalog={len(catalog.steps):>6} steps  "
            f"flat: visited={len(flat.steps)} median={flat_median:.3f} ms p99={flat_p99:.3f} ms  "
            f"sub-flows {LEVELS} deep: visited={visited(nested)} "
            f"median={median:.3f} ms p99={p99:.3f} ms"
        )


if __name__ == "__main__":
    main()
