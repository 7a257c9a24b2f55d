"""Engines on Redis: one-step Ale flows/s with one and two engine processes, takeover time.

Used by ``python -m bench.redis``; a worker process is ``python -m bench.instances``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from pathlib import Path

from argyll import Engine
from argyll.testing import Call, StepService, script_step

ROOT = Path(__file__).parents[1]
HELLO = script_step("hello", '{:result "hello"}', outputs=["result"])
BLOCKING = {
    "id": "blocking",
    "type": "sync",
    "attributes": {"result": {"role": "output"}},
    "http": {"endpoint": "", "timeout": 60000},
}


async def worker(store: str, flows: int) -> None:
    """Wait for a line on stdin, run ``flows`` one-step flows, print the seconds it took."""
    async with Engine(store) as engine:
        await engine.register_step(HELLO)
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        start = time.perf_counter()
        for first in range(0, flows, 500):
            batch = range(first, min(first + 500, flows))
            ids = await asyncio.gather(*(engine.start_flow(["hello"]) for _ in batch))
            await asyncio.gather(*(engine.wait_flow(i, timeout=120) for i in ids))
        print(time.perf_counter() - start, flush=True)


async def spawn(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.instances",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
    )


async def flows_per_second(store: str, instances: int, flows: int) -> float:
    """``flows`` one-step flows split over ``instances`` processes started at the same moment."""
    workers = [await spawn("worker", store, str(flows // instances)) for _ in range(instances)]
    for process in workers:
        assert process.stdout is not None
        assert (await process.stdout.readline()).strip() == b"ready"
    start = time.perf_counter()
    for process in workers:
        assert process.stdin is not None
        process.stdin.write(b"go\n")
        await process.stdin.drain()
    for process in workers:
        await process.communicate()
    return flows / (time.perf_counter() - start)


async def doomed(store: str, service: str, flows: int) -> None:
    """An instance that runs as if on another host (only its lease can tell it died)."""
    options = {"instance_id": f"elsewhere:1:{os.getpid()}", "heartbeat_interval": 1.0}
    async with Engine(store, lease_ttl=5.0, **options) as engine:
        await engine.register_step({**BLOCKING, "http": {**BLOCKING["http"], "endpoint": service}})
        for i in range(flows):
            await engine.start_flow(["blocking"], flow_id=f"takeover-{i}")
        print("ready", flush=True)
        await asyncio.Event().wait()


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def idle_serve_cpu(store: str, flows: int) -> tuple[float, float]:
    """(CPU share of one core an idle ``argyll serve`` on the store uses while another engine
    process runs ``flows`` one-step flows on it, those flows/s)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = ["-m", "argyll", "serve", "--no-dashboard", "--port", str(port), "--store", store]
    serve = await asyncio.create_subprocess_exec(
        sys.executable,
        *command,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
    )
    try:
        assert serve.stdout is not None
        async with asyncio.timeout(60):
            assert b"argyll serving on" in await serve.stdout.readline()
        used, begun = cpu_seconds(serve.pid), time.perf_counter()
        rate = await flows_per_second(store, 1, flows)
        share = (cpu_seconds(serve.pid) - used) / (time.perf_counter() - begun)
    finally:
        serve.send_signal(signal.SIGTERM)
        await serve.wait()
    return share, rate


async def takeover_seconds(store: str) -> float:
    """From kill -9 of an instance to a survivor re-dispatching its running work."""
    seen, again, done = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def answer(call: Call) -> tuple[int, dict]:
        if not seen.is_set():
            seen.set()
            await done.wait()  # the doomed instance's call: it dies before the answer
        again.set()
        return 200, {"result": "ok"}

    async with StepService(answer) as service, Engine(store, instance_id="survivor"):
        process = await spawn("doomed", store, service.url, "1")
        assert process.stdout is not None
        assert (await process.stdout.readline()).strip() == b"ready"
        async with asyncio.timeout(30):
            await seen.wait()
        process.send_signal(signal.SIGKILL)
        killed = time.perf_counter()
        await process.wait()
        async with asyncio.timeout(30):
            await again.wait()
        taken = time.perf_counter() - killed
        done.set()
        return taken


if __name__ == "__main__":
    role, *rest = sys.argv[1:]
    if role == "worker":
        asyncio.run(worker(rest[0], int(rest[1])))
    else:
        asyncio.run(doomed(rest[0], rest[1], int(rest[2])))
