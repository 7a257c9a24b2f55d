"""Restart with N active flows: time until the engine is ready, and until every flow's work
is re-dispatched, beside a bare read of the same events through the same store.

``python -m bench.restart [--flows 10000 100000] [--store sqlite|redis]``

The store is built fast, by appending each flow's events through the store (not
through an engine): every flow is one HTTP step whose work an instance that is
gone had started. A restarted engine must fold them all, take their work over,
and dispatch each item exactly once; its work runner only counts the calls.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import tempfile
import time
from pathlib import Path

from argyll import Engine
from argyll.decide import EvaluatePredicate, Outcome, RunWork
from argyll.store import EventStore, open_store
from argyll.testing import write_orphaned_flows

STEP = {
    "id": "remote",
    "type": "sync",
    "attributes": {"result": {"role": "output"}},
    "http": {"endpoint": "http://127.0.0.1:9/never", "timeout": 60000},
}


class CountingRunner:
    """A work runner that never answers, counting how often each item was dispatched."""

    def __init__(self, expected: int) -> None:
        self.calls: collections.Counter[tuple[str, str]] = collections.Counter()
        self.all_dispatched = asyncio.Event()
        self._expected = expected

    async def run(self, effect: RunWork) -> Outcome | None:
        self.calls[(effect.flow_id, effect.token)] += 1
        if len(self.calls) >= self._expected:
            self.all_dispatched.set()
        await asyncio.Event().wait()
        return None

    async def check_predicate(self, effect: EvaluatePredicate) -> tuple[bool, str | None]:
        return True, None


async def build(store: EventStore, flows: int) -> None:
    """The catalog and ``flows`` active flows, each holding one item of a dead instance."""
    await write_orphaned_flows(store, STEP, flows, prefix="f")


async def bare_read(url: str) -> tuple[float, int]:
    """Seconds to read and decode every event of the feed, and how many there were."""
    async with await open_store(url) as store:
        begun, after, count = time.perf_counter(), "", 0
        while batch := await store.read_all(after, 1000):
            count += len(batch)
            after = batch[-1].position
        return time.perf_counter() - begun, count


async def restart(url: str, flows: int) -> tuple[float, float, int]:
    """(seconds to ready, seconds until every item is dispatched, items dispatched twice)."""
    runner = CountingRunner(flows)
    begun = time.perf_counter()
    engine = Engine(url, work=runner)  # type: ignore[arg-type]
    await engine.start()
    ready = time.perf_counter() - begun
    try:
        async with asyncio.timeout(600):
            await runner.all_dispatched.wait()
        dispatched = time.perf_counter() - begun
    finally:
        await engine.aclose()
    twice = sum(1 for count in runner.calls.values() if count > 1)
    return ready, dispatched, twice


async def measure(kind: str, flows: int, directory: Path) -> None:
    url = (
        f"sqlite:///{directory / f'restart-{flows}.db'}"
        if kind == "sqlite"
        else f"redis://127.0.0.1:6379/0?prefix=bench-restart-{flows}-{time.time_ns()}"
    )
    async with await open_store(url) as store:
        begun = time.perf_counter()
        await build(store, flows)
        built = time.perf_counter() - begun
    read_s, events = await bare_read(url)
    ready, dispatched, twice = await restart(url, flows)
    print(
        f"{kind:6} {flows:>7,} active flows ({events:,} events, built in {built:.1f} s): "
        f"bare read {read_s:.2f} s | ready {ready:.2f} s | all re-dispatched {dispatched:.2f} s"
        f" | dispatched twice: {twice}",
        flush=True,
    )
    if kind == "redis":
        await _drop(url)


async def _drop(url: str) -> None:
    import redis.asyncio as redis

    prefix = url.partition("?prefix=")[2]
    client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        async for key in client.scan_iter(match=f"{prefix}*", count=10_000):
            await client.delete(key)
    finally:
        await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--store", choices=["sqlite", "redis"], nargs="+", default=["sqlite"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        for kind in args.store:
            for flows in args.flows:
                asyncio.run(measure(kind, flows, Path(directory)))


if __name__ == "__main__":
    main()
