"""Engine core figures: planning, flow throughput beside the store's own ceiling, replay, memory.

Run: python -m bench.core [--flows 500]. Prints one line per figure.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from argyll import Engine
from argyll.apply import CATALOG_APPLIERS, FLOW_APPLIERS, fold, fold_flow
from argyll.events import CATALOG, Event, EventData, StepRegistered, flow_aggregate
from argyll.model import Catalog, parse_step
from argyll.planner import plan
from argyll.store import EventStore, open_store
from argyll.testing import FakeClock, script_step

CHAIN = 10


def chain_catalog(steps: int) -> Catalog:
    """``steps // CHAIN`` independent chains of CHAIN steps each."""
    now = FakeClock().now()
    events = []
    for n in range(steps):
        chain, link = divmod(n, CHAIN)
        requires = [f"c{chain}_{link - 1}"] if link else []
        definition = script_step(f"s{n}", "{}", requires=requires, outputs=[f"c{chain}_{link}"])
        events.append(Event(CATALOG, n + 1, now, StepRegistered(parse_step(definition))))
    return fold(Catalog(), events, CATALOG_APPLIERS)


def bench_plan() -> None:
    for size in (1_000, 10_000):
        catalog = chain_catalog(size)
        goal = f"s{size - 1}"
        runs = []
        for _ in range(200):
            start = time.perf_counter()
            result = plan(catalog, [goal], {})
            runs.append(time.perf_counter() - start)
        assert len(result.steps) == CHAIN
        print(
            f"plan  catalog={size:>6} steps  visited={len(result.steps)}  "
            f"median={statistics.median(runs) * 1e3:.3f} ms  p99={sorted(runs)[197] * 1e3:.3f} ms"
        )


class RecordingStore:
    """Passes appends through and remembers each batch, to replay them raw for the ceiling."""

    def __init__(self, inner: EventStore) -> None:
        self.inner = inner
        self.batches: list[tuple[str, int, Sequence[EventData], datetime]] = []

    async def append(
        self, aggregate: str, expected: int, events: Sequence[EventData], timestamp: datetime
    ) -> list[Event]:
        self.batches.append((aggregate, expected, events, timestamp))
        return await self.inner.append(aggregate, expected, events, timestamp)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def chain_steps(length: int) -> list[dict[str, Any]]:
    steps = [script_step("s0", '{:v0 "hello"}', outputs=["v0"])]
    for i in range(1, length):
        steps.append(
            script_step(f"s{i}", f"{{:v{i} v{i - 1}}}", requires=[f"v{i - 1}"], outputs=[f"v{i}"])
        )
    return steps


async def run_flows(url: str, length: int, flows: int) -> tuple[float, RecordingStore]:
    store = RecordingStore(await open_store(url))
    async with Engine(store) as engine:  # type: ignore[arg-type]
        for definition in chain_steps(length):
            await engine.register_step(definition)
        store.batches.clear()
        goal = [f"s{length - 1}"]
        start = time.perf_counter()
        ids = await asyncio.gather(*(engine.start_flow(goal) for _ in range(flows)))
        states = await asyncio.gather(*(engine.wait_flow(i, timeout=120) for i in ids))
        elapsed = time.perf_counter() - start
    assert all(s.status == "completed" for s in states)
    await store.inner.aclose()
    return elapsed, store


async def ceiling(url: str, batches: list[tuple[str, int, Sequence[EventData], datetime]]) -> float:
    """The same appends, same batches, same concurrency per flow, with no engine in between."""
    store = await open_store(url)
    by_flow: dict[str, list[tuple[int, Sequence[EventData], datetime]]] = {}
    for aggregate, expected, events, timestamp in batches:
        by_flow.setdefault(aggregate, []).append((expected, events, timestamp))

    async def replay(aggregate: str) -> None:
        for expected, events, timestamp in by_flow[aggregate]:
            await store.append(aggregate, expected, events, timestamp)

    start = time.perf_counter()
    await asyncio.gather(*(replay(a) for a in by_flow))
    elapsed = time.perf_counter() - start
    await store.aclose()
    return elapsed


async def bench_flows(flows: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("memory", "sqlite"):
            for length in (1, 5):
                url = (
                    "memory://" if name == "memory" else f"sqlite:///{Path(tmp) / f'e{length}.db'}"
                )
                raw = (
                    "memory://" if name == "memory" else f"sqlite:///{Path(tmp) / f'r{length}.db'}"
                )
                elapsed, store = await run_flows(url, length, flows)
                events = sum(len(b[2]) for b in store.batches)
                raw_elapsed = await ceiling(raw, store.batches)
                rate, raw_rate = flows / elapsed, flows / raw_elapsed
                appends = len(store.batches) / flows
                print(
                    f"flows store={name:<6} steps={length}  {rate:>7.0f} flows/s  "
                    f"({events / flows:.0f} events, {appends:.0f} appends per flow)  "
                    f"ceiling {raw_rate:>7.0f} flows/s of raw appends  "
                    f"engine/ceiling={rate / raw_rate:.2f}"
                )


async def bench_replay_and_memory() -> None:
    flows = 10_000
    store = await open_store("memory://")
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    async with Engine(store) as engine:
        for definition in chain_steps(1):
            await engine.register_step(definition)
        for _ in range(0, flows, 1000):
            ids = await asyncio.gather(*(engine.start_flow(["s0"]) for _ in range(1000)))
            await asyncio.gather(*(engine.wait_flow(i, timeout=60) for i in ids))
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        logs = [await store.read(flow_aggregate(s.id)) for s in await store.list_flows()]
    count = sum(len(log) for log in logs)
    start = time.perf_counter()
    for log in logs:
        fold_flow(log)
    elapsed = time.perf_counter() - start
    print(f"replay  {count / elapsed:>9.0f} events/s folded ({count} events, {len(logs)} flows)")
    print(f"memory  {held / 2**20:.1f} MiB per {flows} completed one-step flows held in memory://")
    await store.aclose()

    sqlite_rate = await sqlite_read_rate(logs)
    print(f"replay  {sqlite_rate:>9.0f} events/s read from SQLite's feed, decoded and folded")


async def sqlite_read_rate(logs: list[list[Event]]) -> float:
    """Events/s read back from SQLite through the global feed, decoded and folded."""
    with tempfile.TemporaryDirectory() as tmp:
        store = await open_store(f"sqlite:///{Path(tmp) / 'r.db'}")
        for log in logs:
            await store.append(log[0].aggregate, 0, [e.data for e in log], log[0].timestamp)
        start = time.perf_counter()
        states: dict[str, Any] = {}
        count, position = 0, ""
        while batch := await store.read_all(position, limit=5000):
            for event in batch:
                state = states.get(event.aggregate)
                states[event.aggregate] = (
                    fold_flow([event])
                    if state is None
                    else FLOW_APPLIERS[type(event.data)](state, event, event.data)
                )
            count += len(batch)
            position = batch[-1].position
        elapsed = time.perf_counter() - start
        await store.aclose()
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flows", type=int, default=500)
    args = parser.parse_args()
    print(f"# bench/core.py  {datetime.now().isoformat(timespec='minutes')}")
    bench_plan()
    asyncio.run(bench_flows(args.flows))
    asyncio.run(bench_replay_and_memory())


if __name__ == "__main__":
    main()
