"""Flows over HTTP: `argyll serve` on SQLite under many concurrent clients, beside bare Tornado.

Like upstream Argyll's load test: register one Ale step returning {:result "hello"},
start flows over REST from many concurrent clients and poll each to completion.
The ceiling is a bare Tornado JSON handler answering the same requests (one POST,
then GETs) to the same client in the same run.

Run: python -m bench.service [--clients 8 64] [--seconds 5] [--workers N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import aiohttp
import httpx

BARE = """
import asyncio, sys, tornado.web
class Flow(tornado.web.RequestHandler):
    def post(self):
        self.set_status(201)
        self.write({"message": "flow started", "flow_id": "x"})
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

POLL_PAUSE = 0.01
"""Seconds a client waits before asking again about a flow that is still active."""

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


async def load(base: str, clients: int, seconds: float) -> tuple[int, list[float]]:
    """Closed loop: each client starts a flow, polls it to completion, and starts the next.

    The load comes from aiohttp directly: the cheapest client, so the server gets the CPU.
    """
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(base, connector=connector) as client:
        deadline = time.perf_counter() + seconds

        async def one_client() -> None:
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                async with client.post("/engine/flow", json={"goals": ["hello"]}) as reply:
                    flow_id = (await reply.json())["flow_id"]
                while True:
                    async with client.get(f"/engine/flow/{flow_id}/status") as status:
                        if (await status.json())["status"] != "active":
                            break
                    await asyncio.sleep(POLL_PAUSE)
                latencies.append(time.perf_counter() - start)

        began = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(clients)))
        elapsed = time.perf_counter() - began
    return round(len(latencies) / elapsed), latencies


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * fraction), len(ordered) - 1)] * 1000


def report(name: str, rate: int, latencies: list[float]) -> None:
    p50, p99 = statistics.median(latencies) * 1000, percentile(latencies, 0.99)
    print(f"{name:<34} {rate:>6} flows/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms")


async def register(base: str) -> None:
    async with httpx.AsyncClient(base_url=base) as client:
        reply = await client.post("/engine/step", json=STEP)
        reply.raise_for_status()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, nargs="+", default=[8, 64])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=1, help="argyll serve --workers N")
    args = parser.parse_args()
    print(f"# bench/service.py  {datetime.now().isoformat(timespec='minutes')}")
    with tempfile.TemporaryDirectory() as tmp:
        store = f"sqlite:///{Path(tmp) / 'bench.db'}"
        argyll = [sys.executable, "-m", "argyll", "serve", "--port", "0", "--store", store]
        argyll += ["--workers", str(args.workers)]
        process, base = start_server(argyll)
        try:
            asyncio.run(register(base))
            for clients in args.clients:
                rate, latencies = asyncio.run(load(base, clients, args.seconds))
                name = f"argyll serve x{args.workers}, sqlite, {clients} clients"
                report(name, rate, latencies)
        finally:
            process.terminate()
            process.wait()
    port = 18000 + os.getpid() % 1000
    bare, base = start_server([sys.executable, "-c", BARE, str(port)])
    try:
        for clients in args.clients:
            rate, latencies = asyncio.run(load(base, clients, args.seconds))
            report(f"bare tornado handlers, {clients} clients", rate, latencies)
    finally:
        bare.terminate()
        bare.wait()


if __name__ == "__main__":
    main()
