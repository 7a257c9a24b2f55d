"""One-sync-HTTP-step flows/s beside a bare HTTP client calling the same step service.

Run: python -m bench.http_steps [--seconds 3]. The step service runs in its own
process (a bare Tornado JSON handler), so the engine and the client are measured
against the same ceiling in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import datetime

import httpx

from argyll import Engine

SERVICE = """
import asyncio, sys, tornado.web
class Step(tornado.web.RequestHandler):
    def post(self):
        self.set_header("Content-Type", "application/json")
        self.write(b'{"y": "ok"}')
async def main():
    tornado.web.Application([(r"/step", Step)]).listen(int(sys.argv[1]), "127.0.0.1")
    print("ready", flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


async def closed_loop(
    call: Callable[[], Awaitable[None]], concurrency: int, seconds: float
) -> tuple[float, list[float]]:
    """Rate and latencies of ``concurrency`` workers calling back to back for ``seconds``."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(latencies) / (time.perf_counter() - start), latencies


def p50_ms(latencies: list[float]) -> float:
    return statistics.median(latencies) * 1000


async def bare_client(url: str, client: httpx.AsyncClient, concurrency: int, seconds: float):
    async def call() -> None:
        response = await client.post(url, json={"x": 1})
        response.json()

    return await closed_loop(call, concurrency, seconds)


async def engine_flows(url: str, concurrency: int, seconds: float):
    async with Engine("memory://") as engine:
        await engine.register_step(
            {
                "id": "step",
                "type": "sync",
                "attributes": {"x": {"role": "required"}, "y": {"role": "output"}},
                "http": {"endpoint": url},
            }
        )

        async def call() -> None:
            flow_id = await engine.start_flow(["step"], {"x": 1})
            await engine.wait_flow(flow_id, timeout=30)

        return await closed_loop(call, concurrency, seconds)


def clients() -> dict[str, Callable[[], httpx.AsyncClient]]:
    from httpx_aiohttp import AiohttpTransport

    limits = httpx.Limits(max_connections=256, max_keepalive_connections=64)
    return {
        "httpx (httpcore pool)": lambda: httpx.AsyncClient(limits=limits),
        "httpx + aiohttp transport": lambda: httpx.AsyncClient(
            transport=AiohttpTransport(limits=limits)
        ),
    }


async def measure(url: str, seconds: float) -> None:
    print(f"# bench/http_steps.py  {datetime.now().isoformat(timespec='minutes')}")
    print("who    conc what                          rate           p50")
    for concurrency in (1, 32):
        for name, make in clients().items():
            async with make() as client:
                rate, lat = await bare_client(url, client, concurrency, seconds)
            print(f"bare   c={concurrency:<3} {name:<29} {rate:>6.0f} req/s   {p50_ms(lat):.2f} ms")
        rate, lat = await engine_flows(url, concurrency, seconds)
        name = "one-step HTTP flows"
        print(f"engine c={concurrency:<3} {name:<29} {rate:>6.0f} flows/s {p50_ms(lat):.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0)
    seconds = parser.parse_args().seconds
    port = 18931
    service = subprocess.Popen(
        [sys.executable, "-c", SERVICE, str(port)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert service.stdout is not None and service.stdout.readline().strip() == "ready"
        asyncio.run(measure(f"http://127.0.0.1:{port}/step", seconds))
    finally:
        service.terminate()
        service.wait()


if __name__ == "__main__":
    main()
