"""Flows over HTTP: `argyll serve` on SQLite under many concurrent clients, beside bare Tornado.

Like upstream Argyll's load test: register one Ale step returning {:result "hello"},
start flows over REST from many concurrent clients and see each to completion, in
two ways: ``poll`` asks ``/status`` every POLL_PAUSE until the flow has ended;
``wait`` starts it with ``POST /engine/flow?wait=`` (a long poll: the reply comes
when the flow has ended) and asks ``/status?wait=`` only if it has not; ``status``
reads the status of one ended flow the server holds, back to back (what a poll
costs by itself). The ceiling is a bare Tornado JSON handler answering the same
requests (one POST, then GETs) to the same client in the same run. With both
``poll`` and ``wait``, the last lines give polling's flows/s as a share of
waiting's for the same clients: what the polls take from the engine.

Run: python -m bench.service [--clients 8 64] [--seconds 5] [--modes poll wait status]
[--workers N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import aiohttp
import httpx

from argyll import Engine

BARE = """
import asyncio, sys, tornado.web
class Flow(tornado.web.RequestHandler):
    def post(self):
        self.set_status(201)
        reply = {"message": "flow started", "flow_id": "x"}
        if self.get_query_argument("wait", None) is not None:
            reply["state"] = {"id": "x", "status": "completed"}
        self.write(reply)
class Status(tornado.web.RequestHandler):
    def get(self, flow_id):
        self.write({"id": flow_id, "status": "completed"})
async def main():
    routes = [(r"/engine/flow", Flow), (r"/engine/flow/([^/]+)/status", Status)]
    tornado.web.Application(routes).listen(int(sys.argv[1]), "127.0.0.1")
    print("bare serving on http://127.0.0.1:%d" % int(sys.argv[1]), flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""

POLL_PAUSE = 0.005
"""Seconds a client waits before asking again about a flow that is still active."""
WAIT = "10"
"""Seconds a ``wait`` client asks the server to hold each reply until the flow ends."""

STEP = {
    "id": "hello",
    "type": "script",
    "attributes": {"result": {"role": "output", "type": "string"}},
    "script": {"language": "ale", "script": '{:result "hello"}'},
}


def start_server(command: list[str]) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    if "serving on" not in line:
        process.kill()
        raise RuntimeError(f"server did not start: {line!r}")
    return process, line.split("serving on ", 1)[1].split()[0]


async def polled(client: aiohttp.ClientSession) -> None:
    """One flow, started, then its status asked every POLL_PAUSE until it has ended."""
    async with client.post("/engine/flow", json={"goals": ["hello"]}) as reply:
        flow_id = (await reply.json())["flow_id"]
    while True:
        async with client.get(f"/engine/flow/{flow_id}/status") as status:
            if (await status.json())["status"] != "active":
                return
        await asyncio.sleep(POLL_PAUSE)


async def waited(client: aiohttp.ClientSession) -> None:
    """One flow, started with a long poll; its status waited for only if that was not enough."""
    start = {"goals": ["hello"]}
    async with client.post("/engine/flow", params={"wait": WAIT}, json=start) as reply:
        body = await reply.json()
    status = body.get("state", {}).get("status", "active")
    while status == "active":
        path = f"/engine/flow/{body['flow_id']}/status"
        async with client.get(path, params={"wait": WAIT}) as reply:
            status = (await reply.json())["status"]


HELD = "bench-held"
"""The ended flow ``status`` reads: started once, before the runs, so the server holds it."""


async def status_read(client: aiohttp.ClientSession) -> None:
    async with client.get(f"/engine/flow/{HELD}/status") as reply:
        assert (await reply.json())["status"] == "completed"


MODES = {"poll": polled, "wait": waited, "status": status_read}
UNITS = {"status": "read"}
"""What one run of a mode is, where it is not a flow."""


async def load(base: str, clients: int, seconds: float, mode: str) -> tuple[int, list[float]]:
    """Closed loop: each client starts a flow, sees it to completion, and starts the next.

    The load comes from aiohttp directly: the cheapest client, so the server gets the CPU.
    """
    latencies: list[float] = []
    run_one = MODES[mode]
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(base, connector=connector) as client:
        deadline = time.perf_counter() + seconds

        async def one_client() -> None:
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                await run_one(client)
                latencies.append(time.perf_counter() - start)

        began = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(clients)))
        elapsed = time.perf_counter() - began
    return round(len(latencies) / elapsed), latencies


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, every thread) a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(
    pid: int, base: str, clients: int, seconds: float, mode: str
) -> tuple[int, list[float], float]:
    """A closed-loop run, and the server's CPU milliseconds per flow during it: on a shared
    machine flows/s follows what the others leave over, CPU per flow does not."""
    before = cpu_seconds(pid)
    rate, latencies = asyncio.run(load(base, clients, seconds, mode))
    return rate, latencies, (cpu_seconds(pid) - before) * 1000 / max(len(latencies), 1)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * fraction), len(ordered) - 1)] * 1000


def report(name: str, mode: str, rate: int, latencies: list[float], cpu_ms: float) -> None:
    p50, p99 = statistics.median(latencies) * 1000, percentile(latencies, 0.99)
    unit = UNITS.get(mode, "flow")
    print(
        f"{name:<40} {rate:>6} {unit}s/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms"
        f"   server CPU {cpu_ms:5.2f} ms/{unit}"
    )


async def register(base: str) -> None:
    """The step, and the ended flow ``status`` reads."""
    async with httpx.AsyncClient(base_url=base) as client:
        reply = await client.post("/engine/step", json=STEP)
        reply.raise_for_status()
        held = {"id": HELD, "goals": ["hello"]}
        reply = await client.post("/engine/flow", params={"wait": WAIT}, json=held)
        reply.raise_for_status()


async def engine_alone(store: str, clients: int, seconds: float) -> tuple[int, float]:
    """The same flows started and waited for in-process by ``clients`` tasks, no HTTP:
    flows/s and CPU milliseconds per flow (this process: the loop and the store's threads)."""
    async with Engine(store) as engine:
        await engine.register_step(STEP)
        done = 0

        async def one_client(deadline: float) -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                start = await engine.submit_flow(["hello"], {})
                await engine.wait_flow(start.flow_id, float(WAIT))
                done += 1

        before, began = time.process_time(), time.perf_counter()
        deadline = began + seconds
        await asyncio.gather(*(one_client(deadline) for _ in range(clients)))
        elapsed = time.perf_counter() - began
        return round(done / elapsed), (time.process_time() - before) * 1000 / max(done, 1)


@contextlib.contextmanager
def sqlite_store() -> Iterator[str]:
    """The URL of a SQLite store in a directory of its own, removed afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        yield f"sqlite:///{Path(tmp) / 'bench.db'}"


Figures = dict[tuple[str, int], tuple[int, float]]
"""Flows/s and server CPU per flow, by mode and number of clients."""


def runs(pid: int, base: str, name: str, args: argparse.Namespace) -> Figures:
    """Every mode and number of clients against one server, each reported as it ends."""
    figures: Figures = {}
    for mode in args.modes:
        for clients in args.clients:
            rate, latencies, cpu = measured(pid, base, clients, args.seconds, mode)
            report(f"{name}, {mode}, {clients} clients", mode, rate, latencies, cpu)
            figures[mode, clients] = rate, cpu
    return figures


def serve_runs(args: argparse.Namespace) -> Figures:
    with sqlite_store() as store:
        argyll = [sys.executable, "-m", "argyll", "serve", "--port", "0", "--store", store]
        process, base = start_server([*argyll, "--workers", str(args.workers)])
        try:
            asyncio.run(register(base))
            return runs(process.pid, base, f"argyll serve x{args.workers}, sqlite", args)
        finally:
            process.terminate()
            process.wait()


def bare_runs(args: argparse.Namespace) -> Figures:
    port = 18000 + os.getpid() % 1000
    bare, base = start_server([sys.executable, "-c", BARE, str(port)])
    try:
        return runs(bare.pid, base, "bare tornado handlers", args)
    finally:
        bare.terminate()
        bare.wait()


def polling_share(served: Figures, clients: list[int]) -> None:
    """Polling's flows/s as a share of waiting's, for each number of clients run in both."""
    for count in clients:
        if ("poll", count) in served and ("wait", count) in served:
            share = served["poll", count][0] / max(served["wait", count][0], 1)
            print(f"polling vs waiting, {count} clients: {share:.0%} of the flows/s")


def one_core_bounds(args: argparse.Namespace, bare: Figures) -> None:
    """What one core could do if HTTP cost only what the bare handler costs and the
    engine only what it costs in-process: 1000 / (engine CPU + bare CPU) flows/s."""
    for clients in args.clients:
        with sqlite_store() as store:
            rate, cpu = asyncio.run(engine_alone(store, clients, args.seconds))
        print(
            f"{f'engine alone, in-process, sqlite, {clients} clients':<40} {rate:>6} flows/s"
            f"   CPU {cpu:5.2f} ms/flow"
        )
        if ("wait", clients) in bare:
            ceiling = 1000 / (cpu + bare["wait", clients][1])
            print(f"one-core bound for wait, {clients} clients: {ceiling:.0f} flows/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, nargs="+", default=[8, 64])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument(
        "--modes", nargs="+", choices=sorted(MODES), default=["poll", "wait", "status"]
    )
    parser.add_argument("--workers", type=int, default=1, help="argyll serve --workers N")
    args = parser.parse_args()
    print(f"# bench/service.py  {datetime.now().isoformat(timespec='minutes')}")
    served = serve_runs(args)
    bare = bare_runs(args)
    polling_share(served, args.clients)
    one_core_bounds(args, bare)


if __name__ == "__main__":
    main()
