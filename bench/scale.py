"""Listing cost against the size of history, quiet and under load, on SQLite and Redis.

For each N (10k, 100k, 1M) a store of N ended one-step flows is written straight
through the store API (``append``, many at once, so the store groups them), not
over REST. Every flow carries ``team=team-<n % 10>`` (a label a tenth of the
flows carry), one in a thousand also ``rare=yes``, and one of four goals. Then
``argyll serve`` on that store answers, one request at a time (p50 / p95 in ms):

- ``GET /engine/flow?limit=50`` (the newest page),
- ``GET /engine/flow?label=team=team-3`` (1 in 10) and ``?label=rare=yes`` (1 in 1,000),
- ``POST /engine/flow/query`` with a label, a status and a goal (1 flow in 20 matches),
- ``GET /engine`` (counts and a page of active flows),

first on a quiet server (beside the server's CPU milliseconds per request, which
other work on a shared machine does not move as it moves wall times), then while a
paced generator in this process starts ``--rate`` one-step flows a second with
``POST /engine/flow?wait=10`` (the flows/s it achieved are printed too; each kind
of request is timed a quarter as often there, as each waits its turn). The
ceiling, measured in the same run through the store's own client: a bare ``SELECT``
of 50 rows by primary key (SQLite), a bare ``ZREVRANGE`` of 50 and an ``HMGET`` of
their rows (Redis).

Run: python -m bench.scale [--sizes 10000 100000 1000000] [--stores sqlite redis]
     [--requests 200] [--rate 300]

SQLite stores are kept in the temporary directory by size and schema version
(built once, each run adds the flows its load started); Redis stores are built
under a prefix of their own and deleted after they were measured.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import redis.asyncio as redis

from argyll.events import FlowCompleted, FlowStarted, flow_aggregate
from argyll.model import FlowID, Plan, StepID
from argyll.store import open_store
from argyll.store.redis import redis_settings
from argyll.store.redis.settings import Keys
from argyll.store.sqlite import SCHEMA_VERSION
from bench.history import START
from bench.memo import timed
from bench.service import STEP, cpu_seconds, percentile, register, start_server

REDIS = "redis://127.0.0.1:6379/0"
BATCH = 2000
"""Flows appended at once while building a store (both stores group concurrent appends)."""
GOALS = tuple(StepID(goal) for goal in ("hello", "shout", "count", "greet"))
WARM_UP = 5
"""Requests of each kind sent before timing, and seconds of load before timing under it."""
LOAD_CONNECTIONS = 64
"""Connections the load may hold at once: a server behind its pace gets no flood."""
LOADED_SHARE = 4
"""Under load each kind of request is timed a quarter as often (each waits its turn)."""
TIMEOUT = 30.0
"""Seconds any one request may take before the run fails."""
QUERY = {"labels": {"team": "team-3"}, "statuses": ["completed"], "goals": ["shout"]}
REQUESTS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "GET /engine/flow?limit=50": ("GET", "/engine/flow", {"params": {"limit": 50}}),
    "GET …?label=team=team-3 (1 in 10)": (
        "GET",
        "/engine/flow",
        {"params": {"label": "team=team-3", "limit": 50}},
    ),
    "GET …?label=rare=yes (1 in 1,000)": (
        "GET",
        "/engine/flow",
        {"params": {"label": "rare=yes", "limit": 50}},
    ),
    "POST /engine/flow/query (label, status, goal)": (
        "POST",
        "/engine/flow/query",
        {"json": QUERY},
    ),
    "GET /engine": ("GET", "/engine", {}),
}


def flow_events(n: int) -> tuple[str, list[Any], datetime]:
    """Flow n's aggregate, its start and end, and when they happened (a millisecond apart)."""
    flow = FlowID(f"flow-{n:07}")
    labels = {"team": f"team-{n % 10}", **({"rare": "yes"} if n % 1000 == 7 else {})}
    plan = Plan((GOALS[n % len(GOALS)],), (), {}, {})
    events = [FlowStarted(flow, plan, {}, labels=labels), FlowCompleted(flow)]
    return flow_aggregate(flow), events, START + timedelta(milliseconds=n)


async def build(url: str, flows: int) -> float:
    """Write ``flows`` ended flows into the store at ``url``; seconds it took."""
    begun = time.perf_counter()
    async with await open_store(url) as store:
        for first in range(0, flows, BATCH):
            appends = []
            for n in range(first, min(first + BATCH, flows)):
                aggregate, events, moment = flow_events(n)
                appends.append(store.append(aggregate, 0, events, moment))
            await asyncio.gather(*appends)
    return time.perf_counter() - begun


def sqlite_path(flows: int) -> Path:
    return Path(tempfile.gettempdir()) / f"argyll-scale-{flows}-v{SCHEMA_VERSION}.db"


def figures(took: list[float]) -> str:
    """p50 / p95 of timings in seconds, in ms."""
    return f"{statistics.median(took) * 1000:6.2f} / {percentile(took, 0.95):6.2f}"


def http_call(
    client: aiohttp.ClientSession, method: str, path: str, options: dict[str, Any]
) -> Callable[[], Awaitable[object]]:
    async def call() -> object:
        async with client.request(method, path, **options) as reply:
            reply.raise_for_status()
            return await reply.read()

    return call


@dataclass(frozen=True, slots=True)
class Timings:
    """One kind of request's wall times (seconds) and the server's CPU ms per request."""

    took: list[float]
    cpu_ms: float


async def listings(client: aiohttp.ClientSession, requests: int, pid: int) -> dict[str, Timings]:
    """Each kind of request timed; on a shared machine the wall times follow what the
    other processes leave over, the server's CPU per request does not."""
    found = {}
    for name, (method, path, options) in REQUESTS.items():
        before = cpu_seconds(pid)
        took = await timed(http_call(client, method, path, options), requests, WARM_UP)
        cpu_ms = (cpu_seconds(pid) - before) * 1000 / (requests + WARM_UP)
        found[name] = Timings(took, cpu_ms)
    return found


class PacedLoad:
    """Starts ``rate`` one-step flows a second, each with ``POST /engine/flow?wait=10``, on
    at most LOAD_CONNECTIONS connections, until stopped; counts the flows answered
    completed. A flow falls due every 1/rate s; one due while every connection is busy
    is not started (a server behind the pace shows as fewer flows/s, not a backlog)."""

    def __init__(self, base: str, rate: float) -> None:
        self.base, self.rate = base, rate
        self.completed = 0
        self.elapsed = 0.0
        self._stop = asyncio.Event()

    async def run(self) -> None:
        due: asyncio.Queue[bool] = asyncio.Queue(maxsize=LOAD_CONNECTIONS)
        connector = aiohttp.TCPConnector(limit=LOAD_CONNECTIONS)
        timeout = aiohttp.ClientTimeout(total=TIMEOUT)
        async with aiohttp.ClientSession(self.base, connector=connector, timeout=timeout) as client:
            begun = time.perf_counter()
            workers = [
                asyncio.create_task(self._worker(client, due)) for _ in range(LOAD_CONNECTIONS)
            ]
            ticks = 0
            while not self._stop.is_set():
                ticks += 1
                with contextlib.suppress(asyncio.QueueFull):
                    due.put_nowait(True)
                await asyncio.sleep(max(begun + ticks / self.rate - time.perf_counter(), 0))
            while not due.empty():
                due.get_nowait()
            for _ in workers:
                due.put_nowait(False)  # each worker ends once its flow is answered
            await asyncio.gather(*workers)
            self.elapsed = time.perf_counter() - begun

    def stop(self) -> None:
        self._stop.set()

    @property
    def flows_per_second(self) -> float:
        return self.completed / self.elapsed if self.elapsed else 0.0

    async def _worker(self, client: aiohttp.ClientSession, due: asyncio.Queue[bool]) -> None:
        start = {"goals": [STEP["id"]]}
        while await due.get():
            try:
                async with client.post("/engine/flow", params={"wait": "10"}, json=start) as reply:
                    body = await reply.json()
            except (aiohttp.ClientError, TimeoutError):
                continue  # not completed: it shows in the flows/s
            if body.get("state", {}).get("status") == "completed":
                self.completed += 1


async def measure_server(pid: int, base: str, requests: int, rate: float) -> Served:
    """Listing timings on a quiet server, then under a paced load."""
    await register(base)
    async with aiohttp.ClientSession(base, timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as client:
        async with client.get("/engine") as reply:
            held = sum((await reply.json())["flow_counts"].values())
        quiet = await listings(client, requests, pid)
        load = PacedLoad(base, rate)
        running = asyncio.create_task(load.run())
        await asyncio.sleep(WARM_UP)  # the load reaches its pace before timing under it
        loaded = await listings(client, max(requests // LOADED_SHARE, 20), pid)
        load.stop()
        await running
    both = {name: (quiet[name], loaded[name]) for name in quiet}
    return Served(both, load.flows_per_second, rate, held)


def sqlite_ceiling(path: Path, requests: int) -> list[float]:
    """A bare SELECT of the 50 last rows by primary key, through the sqlite3 module."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        statement = "SELECT * FROM flows ORDER BY id DESC LIMIT 50"

        async def call() -> object:
            return connection.execute(statement).fetchall()

        return asyncio.run(timed(call, requests, WARM_UP))
    finally:
        connection.close()


async def redis_ceiling(url: str, requests: int) -> list[float]:
    """A bare ZREVRANGE of the newest 50 of all flows and an HMGET of their rows."""
    keys = Keys(redis_settings(url).prefix, 1)
    client = redis.Redis.from_url(REDIS)
    try:

        async def call() -> object:
            newest = await client.zrevrange(keys.flow_set(0, None), 0, 49)
            return await client.hmget(keys.flows(0), newest)

        return await timed(call, requests, WARM_UP)
    finally:
        await client.aclose()


async def drop(prefix: str) -> None:
    """Delete every key under ``prefix``, a SCAN page at a time."""
    client = redis.Redis.from_url(REDIS)
    try:
        cursor: int | None = None
        while cursor != 0:
            cursor, found = await client.scan(cursor or 0, match=f"{prefix}*", count=10_000)
            if found:
                await client.unlink(*found)
    finally:
        await client.aclose()


def serve(url: str) -> tuple[Any, str]:
    command = [sys.executable, "-m", "argyll", "serve", "--no-dashboard", "--port", "0"]
    return start_server([*command, "--store", url])


@dataclass(frozen=True, slots=True)
class Served:
    """What a server on the store answered: each kind of request quiet and under load, the
    flows/s of the load, and how many flows the store held when timing began."""

    timings: dict[str, tuple[Timings, Timings]]
    achieved: float
    asked: float
    held: int


def served(url: str, requests: int, rate: float) -> Served:
    process, base = serve(url)
    try:
        return asyncio.run(measure_server(process.pid, base, requests, rate))
    finally:
        process.terminate()
        process.wait(timeout=60)


def measure_sqlite(flows: int, requests: int, rate: float) -> None:
    """Build the store once (kept by size), serve a copy: the load's flows leave it at N."""
    path = sqlite_path(flows)
    if not path.exists():
        partial = path.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        built(flows, asyncio.run(build(f"sqlite:///{partial}", flows)))
        partial.rename(path)
    ceiling = sqlite_ceiling(path, requests)
    copy = path.with_suffix(".served")
    shutil.copyfile(path, copy)
    try:
        report("sqlite", flows, ceiling, served(f"sqlite:///{copy}", requests, rate))
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{copy}{suffix}").unlink(missing_ok=True)


def measure_redis(flows: int, requests: int, rate: float) -> None:
    prefix = f"bench-scale-{flows}-{time.time_ns()}:"
    url = f"{REDIS}?prefix={prefix}"
    try:
        built(flows, asyncio.run(build(url, flows)))
        ceiling = asyncio.run(redis_ceiling(url, requests))
        result = served(url, requests, rate)
    finally:
        asyncio.run(drop(prefix))
    report("redis", flows, ceiling, result)


def built(flows: int, seconds: float) -> None:
    print(f"{flows:,} flows built in {seconds:.1f} s ({flows / seconds:,.0f} flows/s)", flush=True)


def report(kind: str, flows: int, ceiling: list[float], result: Served) -> None:
    head = f"{kind:6} {flows:>9,}"
    print(f"{head}  ({result.held:,} flows in the store when timing began)")
    for name, (quiet, loaded) in result.timings.items():
        print(
            f"{head}  {name:<46} {figures(quiet.took)} {quiet.cpu_ms:6.2f}   {figures(loaded.took)}"
        )
    bare = "bare SELECT by primary key" if kind == "sqlite" else "bare ZREVRANGE 50 + HMGET"
    print(f"{head}  {'ceiling: ' + bare:<46} {figures(ceiling)}")
    print(f"{head}  load achieved {result.achieved:.0f} flows/s (asked {result.asked:.0f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument(
        "--stores", choices=["sqlite", "redis"], nargs="+", default=["sqlite", "redis"]
    )
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rate", type=float, default=300.0, help="flows/s of the load")
    args = parser.parse_args()
    print(
        f"# bench/scale.py {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, SQLite schema {SCHEMA_VERSION}"
    )
    print(
        "p50 / p95 in ms, one request at a time: quiet (and the server's CPU ms per request),"
        " then under load"
    )
    measure = {"sqlite": measure_sqlite, "redis": measure_redis}
    for kind in args.stores:
        for flows in args.sizes:
            measure[kind](flows, args.requests, args.rate)


if __name__ == "__main__":
    main()
