"""Memo hits beside real one-step HTTP calls, and what a memo lookup costs on Redis.

Run: python -m bench.memo [--seconds 3] [--redis redis://127.0.0.1:6379/0]

Figures, each beside its ceiling in the same run:

- the work path: what the engine does for one work item of a memoizable step on a
  hit (key, store lookup, the outcome) vs what it does without one (the HTTP call,
  through the engine's own client), on the memory and SQLite stores;
- one-step flows/s, start to end: every flow a hit vs every flow a call, beside
  the ceiling of flows whose one step does no work (an Ale step);
- Redis: round trips (pipelines sent) and commands per ``memo_get``, hit and miss,
  counted at the store's client; and a lookup's p50 beside a bare PING's.

The step service runs in its own process (a bare Tornado JSON handler, as in
``bench.http_steps``). Every Redis key made is deleted.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from argyll import Engine
from argyll.decide import Memoized, RunWork
from argyll.memo import Memo, memo_key
from argyll.model import FlowID, StepID, Token, parse_step
from argyll.outbound import ALLOW_ALL
from argyll.runtime.engine import HTTP_LIMITS
from argyll.runtime.http import HttpCaller, make_client
from argyll.store import EventStore, open_store
from bench.http_steps import SERVICE, closed_loop, p50_ms

PORT = 18937
ROUND_TRIP_GETS = 1000


def step_definition(url: str, memoizable: bool) -> dict[str, Any]:
    return {
        "id": "step",
        "type": "sync",
        "memoizable": memoizable,
        "attributes": {"x": {"role": "required"}, "y": {"role": "output"}},
        "http": {"endpoint": url},
    }


async def work_paths(url: str, store_url: str, concurrency: int, seconds: float) -> None:
    """The hit path and the call path of one work item, each in a closed loop."""
    step = parse_step(step_definition(url, memoizable=True))
    effect = RunWork(FlowID("bench"), step, Token("t"), {"x": 1})
    client = make_client(ALLOW_ALL, HTTP_LIMITS)
    caller = HttpCaller(client, "http://127.0.0.1:9", ALLOW_ALL)
    async with open_store(store_url) as store:
        memo = Memo(StepID("step"), {"y": "ok"}, "first", 4, datetime.now(UTC))
        await store.memo_put(memo_key(step, effect.inputs), memo)

        async def hit() -> None:
            found = await store.memo_get(memo_key(step, effect.inputs))
            assert found is not None  # the bench measures hits only
            Memoized(found.outputs, FlowID(found.flow_id), found.seq)

        async def call() -> None:
            await caller.call(effect)

        hits, hit_latencies = await closed_loop(hit, concurrency, seconds)
        calls, call_latencies = await closed_loop(call, concurrency, seconds)
    await client.aclose()
    store_name = store_url.split(":")[0]
    print(
        f"work path  {store_name:<7} c={concurrency:<3} hit {hits:>8.0f}/s p50 "
        f"{p50_ms(hit_latencies):.3f} ms   call {calls:>6.0f}/s p50 "
        f"{p50_ms(call_latencies):.3f} ms   ratio {hits / calls:>6.1f}x"
    )


NO_WORK = {
    "id": "step",
    "type": "script",
    "attributes": {"x": {"role": "required"}, "y": {"role": "output"}},
    "script": {"language": "ale", "script": '{:y "ok"}'},
}
"""The ceiling of a one-step flow: an Ale step that answers at once, nothing to look up."""


async def flows(url: str, store_url: str, concurrency: int, seconds: float) -> None:
    """One-step flows/s: a memoizable step whose every flow hits vs a step that is called,
    beside flows whose one step does no work at all."""
    rates = []
    for name, definition in (
        ("hit", step_definition(url, memoizable=True)),
        ("call", step_definition(url, memoizable=False)),
        ("none", NO_WORK),
    ):
        fresh = store_url.replace(".db", f"-{concurrency}-{name}.db")
        async with Engine(fresh) as engine:
            await engine.register_step(definition)
            first = await engine.start_flow(["step"], {"x": 1})
            await engine.wait_flow(first, timeout=30)  # the memo every later flow hits

            async def run(engine: Engine = engine) -> None:
                flow_id = await engine.start_flow(["step"], {"x": 1})
                await engine.wait_flow(flow_id, timeout=30)

            rate, latencies = await closed_loop(run, concurrency, seconds)
            rates.append((rate, p50_ms(latencies)))
    (hit, hit_p50), (call, call_p50), (ceiling, _) = rates
    store_name = store_url.split(":")[0]
    print(
        f"flows      {store_name:<7} c={concurrency:<3} hit {hit:>8.0f}/s p50 {hit_p50:.3f} ms"
        f"   call {call:>6.0f}/s p50 {call_p50:.3f} ms   ratio {hit / call:>6.1f}x"
        f"   ceiling (no work) {ceiling:.0f}/s"
    )


class Counting:
    """Counts what a Redis store sends: pipelines (round trips) and commands."""

    def __init__(self, store: EventStore) -> None:
        self.pipelines = self.commands = 0
        pipeliner = store._pipeliner  # type: ignore[attr-defined]
        send = pipeliner._pipeline

        async def counted(commands: list[tuple[Any, ...]]) -> list[Any]:
            self.pipelines += 1
            self.commands += len(commands)
            replies: list[Any] = await send(commands)
            return replies

        pipeliner._pipeline = counted


async def redis_lookups(redis_url: str) -> None:
    """Round trips and commands per memo_get (sequential, so none share a pipeline)."""
    prefix = f"bench-memo-{uuid.uuid4().hex}:"
    url = f"{redis_url}{'&' if '?' in redis_url else '?'}prefix={prefix}"
    try:
        async with open_store(url) as store:
            await store.memo_put("hit", Memo(StepID("s"), {"y": 1}, "f", 4, datetime.now(UTC)))
            counting = Counting(store)
            for key in ("hit", "miss"):
                before = (counting.pipelines, counting.commands)
                latencies = await timed(lambda key=key: store.memo_get(key), ROUND_TRIP_GETS)
                trips = (counting.pipelines - before[0]) / ROUND_TRIP_GETS
                commands = (counting.commands - before[1]) / ROUND_TRIP_GETS
                print(
                    f"redis      memo_get {key:<4}  {trips:.2f} round trips, {commands:.2f} "
                    f"commands per get   p50 {p50_ms(latencies):.3f} ms"
                )
        bare = aioredis.Redis.from_url(redis_url)
        latencies = await timed(bare.ping, ROUND_TRIP_GETS)
        print(f"redis      bare PING (ceiling: one round trip)   p50 {p50_ms(latencies):.3f} ms")
    finally:
        await delete_prefix(redis_url, prefix)


async def timed(call: Callable[[], Awaitable[Any]], count: int, warm_up: int = 0) -> list[float]:
    """Seconds each of ``count`` calls took, one at a time, after ``warm_up`` calls untimed."""
    for _ in range(warm_up):
        await call()
    latencies = []
    for _ in range(count):
        began = time.perf_counter()
        await call()
        latencies.append(time.perf_counter() - began)
    return latencies


async def delete_prefix(redis_url: str, prefix: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    async for key in client.scan_iter(match=f"{prefix}*", count=1000):
        await client.unlink(key)
    await client.aclose()


async def measure(url: str, seconds: float, redis_url: str) -> None:
    print(f"# bench/memo.py  {datetime.now().isoformat(timespec='minutes')}")
    with tempfile.TemporaryDirectory() as directory:
        sqlite_url = f"sqlite:///{Path(directory) / 'memo.db'}"
        for concurrency in (1, 32):
            for store_url in ("memory://", sqlite_url):
                await work_paths(url, store_url, concurrency, seconds)
        for concurrency in (1, 32):
            for store_url in ("memory://", sqlite_url):
                await flows(url, store_url, concurrency, seconds)
    await redis_lookups(redis_url)
    print(f"# load average {load_average()}")


def load_average() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    options = parser.parse_args()
    service = subprocess.Popen(
        [sys.executable, "-c", SERVICE, str(PORT)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert service.stdout is not None and service.stdout.readline().strip() == "ready"
        asyncio.run(measure(f"http://127.0.0.1:{PORT}/step", options.seconds, options.redis))
    finally:
        service.terminate()
        service.wait()


if __name__ == "__main__":
    main()
