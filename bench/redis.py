"""Redis store appends beside redis-benchmark's XADD and EVALSHA on the same server, in one run.

Run: python -m bench.redis [--url redis://127.0.0.1:6379/0] [--seconds 3]
     [--idle-only | --engines-only]
Prints one line per figure; every key it makes (store prefix, benchmark key) is deleted.
``--engines-only``: the whole-engine figures alone (one vs two engine processes, one
in process beside its raw-append ceiling, the idle second ``argyll serve``, takeover).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from urllib.parse import urlsplit

import redis.asyncio as aioredis

from argyll.events import StepSkipped
from argyll.model import FlowID, StepID
from argyll.store import open_store
from argyll.store.redis import pipeliner
from bench import core, instances

REQUESTS = 200_000
CONFIGS = [(50, 1), (500, 1), (50, 4), (500, 4)]
"""(concurrent tasks, events per append)"""
COMPARE_AND_APPEND = """
local version = redis.call('XLEN', KEYS[1])
if ARGV[1] ~= 'any' and version ~= tonumber(ARGV[1]) then return {0, version} end
redis.call('XADD', KEYS[1], '*', 'n', version + 1, 'd', ARGV[2])
return {1, version + 1}
"""
"""A minimal version check and append; 'any' makes the check pass, as redis-benchmark
repeats one command and cannot count versions."""
RATE = re.compile(r"([\d.]+) requests per second, p50=([\d.]+) msec")


class Figures:
    def __init__(self, appends: int, events: int, seconds: float, latencies: list[float]) -> None:
        self.rate = appends / seconds
        self.event_rate = events / seconds
        self.p50_ms = statistics.median(latencies) * 1e3


async def store_figures(url: str, tasks: int, batch: int, seconds: float) -> Figures:
    """Each task appends ``batch`` events at a time to its own flow until time is up."""
    latencies: list[float] = []
    now = datetime.now(UTC)
    async with open_store(url) as store:

        async def append_until(deadline: float, task: int) -> None:
            events = [StepSkipped(FlowID(f"f{task}"), StepID("s"), "not needed")] * batch
            version = await store.version(f"flow:f{task}")
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                await store.append(f"flow:f{task}", version, events, now)
                latencies.append(time.perf_counter() - began)
                version += batch

        began = time.perf_counter()
        await asyncio.gather(*(append_until(began + seconds, task) for task in range(tasks)))
        elapsed = time.perf_counter() - began
    return Figures(len(latencies), len(latencies) * batch, elapsed, latencies)


def redis_benchmark(url: str, pipeline: int, *command: str) -> tuple[float, float]:
    """requests/s and p50 ms of ``redis-benchmark -P pipeline`` (50 clients) running command."""
    parts = urlsplit(url)
    database = parts.path.strip("/") or "0"
    argv = ["redis-benchmark", "-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 6379)]
    argv += ["--dbnum", database, "-q", "-n", str(REQUESTS), "-P", str(pipeline), *command]
    output = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=300).stdout
    found = RATE.findall(output.replace("\r", "\n"))
    if not found:
        raise RuntimeError(f"no rate in redis-benchmark's output: {output[-300:]!r}")
    rate, p50 = found[-1]
    return float(rate), float(p50)


@contextmanager
def auto_pipelining(enabled: bool) -> Iterator[None]:
    """Off, every command goes alone, up to 50 at once (redis-py's pool holds 100 connections)."""
    saved = pipeliner.MAX_GROUP, pipeliner.MAX_IN_FLIGHT
    if not enabled:
        pipeliner.MAX_GROUP, pipeliner.MAX_IN_FLIGHT = 1, 50
    try:
        yield
    finally:
        pipeliner.MAX_GROUP, pipeliner.MAX_IN_FLIGHT = saved


def show(label: str, tasks: int, batch: int, figures: Figures, xadd: float) -> None:
    print(
        f"{label:<25} tasks={tasks:<3} batch={batch}  {figures.rate:>7,.0f} appends/s"
        f"  ({figures.event_rate:>7,.0f} events/s)  p50 {figures.p50_ms:6.2f} ms"
        f"  store/XADD -P 1 = {figures.rate / xadd:.0%}"
    )


async def delete_keys(url: str, pattern: str) -> None:
    client = aioredis.Redis.from_url(url)
    try:
        async for key in client.scan_iter(match=pattern, count=1000):
            await client.unlink(key)
    finally:
        await client.aclose()


async def engine_figures(store_url: str) -> None:
    """Flows through whole engines on this Redis, and how fast a dead one's work moves on."""
    flows = 4000
    for count in (1, 2):
        rate = await instances.flows_per_second(store_url, count, flows)
        print(f"engine x{count} processes  one-step Ale flows {rate:>9,.0f} flows/s")
    elapsed, recording = await core.run_flows(store_url, 1, 2000)
    raw = await core.ceiling(f"{store_url}raw:", recording.batches)
    print(
        f"engine in-process          one-step Ale flows {2000 / elapsed:>9,.0f} flows/s  "
        f"raw appends of the same batches {2000 / raw:>9,.0f} flows/s  "
        f"engine/ceiling={raw / elapsed:.2f}"
    )
    await idle_figures(store_url)
    taken = await instances.takeover_seconds(store_url)
    print(f"takeover: a survivor re-dispatched a killed instance's work after {taken:.2f} s")


async def idle_figures(store_url: str) -> None:
    """What an idle second ``argyll serve`` costs while an engine runs flows on the same Redis."""
    share, rate = await instances.idle_serve_cpu(store_url, 4000)
    print(
        f"idle argyll serve beside {rate:,.0f} flows/s of another engine: {share:.1%} of a core, "
        f"{share / rate * 1000:.3f} ms of CPU per flow"
    )


async def only(url: str, figures: Callable[[str], Awaitable[None]]) -> None:
    """Some figures alone, under a key prefix of their own, deleted after."""
    prefix = f"argyll-bench-{uuid.uuid4().hex}:"
    try:
        await figures(f"{url}{'&' if '?' in url else '?'}prefix={prefix}")
    finally:
        await delete_keys(url, f"{prefix}*")


async def main(url: str, seconds: float) -> None:
    prefix = f"argyll-bench-{uuid.uuid4().hex}:"
    scratch = f"{prefix}scratch"
    store_url = f"{url}{'&' if '?' in url else '?'}prefix={prefix}"
    try:
        await store_figures(store_url, 50, 1, min(seconds, 1.0))  # warm up
        xadd, xadd_p50 = redis_benchmark(url, 1, "XADD", scratch, "*", "f", "v")
        print(f"redis-benchmark XADD       -P 1   {xadd:>9,.0f} req/s  p50 {xadd_p50:.3f} ms")
        rate, p50 = redis_benchmark(url, 16, "XADD", scratch, "*", "f", "v")
        print(f"redis-benchmark XADD       -P 16  {rate:>9,.0f} req/s  p50 {p50:.3f} ms")
        client = aioredis.Redis.from_url(url)
        sha = await client.script_load(COMPARE_AND_APPEND)
        await client.aclose()
        payload = '{"flow_id":"f0","step_id":"s","reason":"not needed"}'
        rate, p50 = redis_benchmark(url, 1, "EVALSHA", sha, "1", scratch, "any", payload)
        print(f"redis-benchmark EVALSHA    -P 1   {rate:>9,.0f} req/s  p50 {p50:.3f} ms")
        for enabled, label in ((True, "store"), (False, "store, no auto-pipelining")):
            with auto_pipelining(enabled):
                for tasks, batch in CONFIGS:
                    figures = await store_figures(store_url, tasks, batch, seconds)
                    show(label, tasks, batch, figures, xadd)
        await engine_figures(store_url)
    finally:
        await delete_keys(url, f"{prefix}*")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--seconds", type=float, default=3.0)
    chosen = parser.add_mutually_exclusive_group()
    chosen.add_argument(
        "--idle-only", action="store_true", help="only the idle second `argyll serve` figure"
    )
    chosen.add_argument("--engines-only", action="store_true", help="only the engine figures")
    options = parser.parse_args()
    if options.idle_only:
        asyncio.run(only(options.url, idle_figures))
    elif options.engines_only:
        asyncio.run(only(options.url, engine_figures))
    else:
        asyncio.run(main(options.url, options.seconds))
