"""Listing cost against the length of history: `argyll serve` on SQLite stores of N flows.

Each store is built once (flows written straight through the store, not over REST:
a start and an end per flow, labelled by one of ten teams and, one flow in a
thousand, `rare=yes`), then served by `argyll serve` in its own process while one
client times, one request at a time:

- `GET /engine/flow?limit=50` (the newest page),
- `GET /engine/flow?label=team=team-3&limit=50` (a label a tenth of the flows carry),
- `GET /engine/flow?label=rare=yes&limit=50` (a label one flow in a thousand carries),
- `POST /engine/flow/query` with a label, a status and a goal (where the engine has it),
- `GET /engine` (counts and a page of active flows).

Run: python -m bench.history [--flows 10000 200000] [--requests 200]
With PYTHONPATH pointing at another checkout, the same figures for that code
(its stores are built apart, by its own schema version).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from argyll.events import FlowCompleted, FlowStarted, flow_aggregate
from argyll.model import FlowID, Plan, StepID
from argyll.store import open_store
from argyll.store.sqlite import SCHEMA_VERSION

BATCH = 2000
"""Flows appended at once while building a store (the SQLite store commits them in groups)."""
START = datetime(2026, 1, 1, tzinfo=UTC)
GOALS = (StepID("hello"), StepID("shout"))


def store_path(flows: int) -> Path:
    return Path(tempfile.gettempdir()) / f"argyll-history-{flows}-v{SCHEMA_VERSION}.db"


async def build(path: Path, flows: int) -> float:
    """Write ``flows`` ended flows into a new store at ``path``; seconds it took."""
    begun = time.perf_counter()
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    async with open_store(f"sqlite:///{partial}") as store:
        for first in range(0, flows, BATCH):
            appends = []
            for n in range(first, min(first + BATCH, flows)):
                flow = FlowID(f"flow-{n:07}")
                labels = {"team": f"team-{n % 10}", **({"rare": "yes"} if n % 1000 == 7 else {})}
                plan = Plan((GOALS[n % 2],), (), {}, {})
                events = [FlowStarted(flow, plan, {}, labels=labels), FlowCompleted(flow)]
                moment = START + timedelta(milliseconds=n)
                appends.append(store.append(flow_aggregate(flow), 0, events, moment))
            await asyncio.gather(*appends)
    partial.rename(path)
    return time.perf_counter() - begun


def serve(path: Path) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "argyll", "serve", "--no-dashboard", "--port", "0"]
    process = subprocess.Popen(
        [*command, "--store", f"sqlite:///{path}"], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if "serving on" not in line:
        process.kill()
        raise RuntimeError(f"argyll serve did not start: {line!r}")
    return process, line.split()[3]


def timed(client: httpx.Client, requests: int, method: str, path: str, **kwargs: object) -> str:
    """p50 and p95 of ``requests`` calls, in ms, after a few to warm up; '—' if unknown here."""
    for _ in range(5):
        reply = client.request(method, path, **kwargs)  # type: ignore[arg-type]
        if reply.status_code in (404, 405):
            return "—"
        reply.raise_for_status()
    took = []
    for _ in range(requests):
        begun = time.perf_counter()
        client.request(method, path, **kwargs).raise_for_status()  # type: ignore[arg-type]
        took.append((time.perf_counter() - begun) * 1000)
    quantiles = statistics.quantiles(took, n=20)
    return f"{statistics.median(took):.2f} / {quantiles[18]:.2f}"


def measure(path: Path, requests: int) -> dict[str, str]:
    process, url = serve(path)
    query = {"labels": {"team": "team-3"}, "statuses": ["completed"], "goals": ["shout"]}
    try:
        with httpx.Client(base_url=url, timeout=60) as client:
            return {
                "GET /engine/flow?limit=50": timed(
                    client, requests, "GET", "/engine/flow", params={"limit": 50}
                ),
                "GET …?label=team=team-3 (1 in 10)": timed(
                    client, requests, "GET", "/engine/flow", params={"label": "team=team-3"}
                ),
                "GET …?label=rare=yes (1 in 1,000)": timed(
                    client, requests, "GET", "/engine/flow", params={"label": "rare=yes"}
                ),
                "POST /engine/flow/query (label, status, goal)": timed(
                    client, requests, "POST", "/engine/flow/query", json=query
                ),
                "GET /engine": timed(client, requests, "GET", "/engine"),
            }
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", type=int, nargs="+", default=[10_000, 200_000])
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    print(f"# {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, SQLite schema {SCHEMA_VERSION}")
    print("p50 / p95 in ms, one request at a time")
    for flows in args.flows:
        path = store_path(flows)
        if not path.exists():
            seconds = asyncio.run(build(path, flows))
            print(f"built {flows:,} flows in {seconds:.1f} s ({flows / seconds:,.0f} flows/s)")
        for name, figure in measure(path, args.requests).items():
            print(f"{flows:>9,}  {name:<48} {figure}")


if __name__ == "__main__":
    main()
