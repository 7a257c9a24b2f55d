"""``argyll serve --workers N``: N engine processes on one store behind one port.

The first process binds the port, N times over with ``SO_REUSEPORT`` where the
system has it (one listening socket per worker, so the kernel spreads new
connections over the workers evenly), else once for all (then whichever worker
wakes first takes each connection). It starts N workers, each ``argyll serve``
again with its sockets handed down (``WORKER_FDS`` names their file
descriptors), and each serves its connections with an engine of its own on the
same store. Any worker takes any call,
a webhook included: the store is what the engines share, and each follows it
(another worker's flows are read from it). The first process prints the serving
line once every worker is ready, passes SIGTERM and SIGINT on, and exits 0 when
all have stopped; if a worker cannot start, or dies, the others are stopped and
it exits 1.

The dashboard is served only with one worker: a Bokeh session lives in the
process that made it, and a page's WebSocket may reach another worker.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import Sequence

from tornado.netutil import bind_sockets

WORKER_FDS = "ARGYLL_WORKER_FDS"
"""The environment variable naming, comma-separated, the listening sockets a worker serves."""
READY = b"argyll serving on "
"""How a worker's stdout starts once it serves (the line ``argyll serve`` always prints)."""


def is_worker() -> bool:
    """Whether this process is a worker, handed its listening sockets."""
    return bool(os.environ.get(WORKER_FDS))


def inherited_sockets() -> list[socket.socket] | None:
    """The listening sockets handed to this worker, or None outside a worker (call it once:
    the sockets close when dropped)."""
    named = os.environ.get(WORKER_FDS)
    if not named:
        return None
    return [socket.socket(fileno=int(fd)) for fd in named.split(",")]


def bind_for_workers(host: str, port: int, workers: int) -> list[list[socket.socket]]:
    """The listening sockets of each worker: its own on the one port where the system can
    share a port (``SO_REUSEPORT``), else the same ones for all. Port 0 picks a free one."""
    try:
        first = bind_sockets(port, host, reuse_port=True)
    except ValueError:  # no SO_REUSEPORT here
        return [bind_sockets(port, host)] * workers
    chosen = first[0].getsockname()[1]
    return [first, *(bind_sockets(chosen, host, reuse_port=True) for _ in range(workers - 1))]


async def supervise(argv: Sequence[str], sockets: Sequence[Sequence[socket.socket]]) -> int:
    """Run one process of ``argv`` on each worker's sockets until a signal; the exit code."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    processes = [await _spawn(argv, [each.fileno() for each in own]) for own in sockets]
    exits = [asyncio.create_task(process.wait()) for process in processes]
    announced = await _all_ready(processes, stop)
    if announced is not None:
        print(announced, flush=True)
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait([stopping, *exits], return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
    for process in processes:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
    codes = await asyncio.gather(*exits)
    return 0 if stop.is_set() and not any(codes) else 1  # asked to stop, and all stopped well


async def _spawn(argv: Sequence[str], fds: list[int]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "argyll",
        *argv,
        stdout=asyncio.subprocess.PIPE,
        pass_fds=fds,
        env={**os.environ, WORKER_FDS: ",".join(map(str, fds))},
    )


async def _all_ready(
    processes: list[asyncio.subprocess.Process], stop: asyncio.Event
) -> str | None:
    """The serving line once every worker has printed its own; None if one exits first or a
    signal comes."""

    async def ready(process: asyncio.subprocess.Process) -> str | None:
        assert process.stdout is not None  # noqa: S101 — narrows the type: stdout is piped
        line = await process.stdout.readline()
        return line.decode().rstrip("\n") if line.startswith(READY) else None

    waiting = asyncio.gather(*(ready(process) for process in processes))
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait([waiting, stopping], return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if not waiting.done():
        waiting.cancel()
        return None
    lines = waiting.result()
    return lines[0] if all(lines) else None
