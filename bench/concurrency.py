"""One-step flows/s with a concurrency limit on the step vs without, in-process on Redis.

Run: python -m bench.concurrency [--url redis://127.0.0.1:6379/0] [--flows 2000] [--rounds 3]
Each round runs the same flows (all started at once) without a limit, then with
``concurrency: 64``, each on a fresh key prefix, timed until every flow completed
and the engine's feed follower has seen it; the limit must not serialise the
engine (goal: limited/unlimited >= 0.8). Every key it makes is deleted.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from dataclasses import dataclass

from argyll import Engine
from argyll.testing import script_step, wait_until
from bench.redis import delete_keys

LIMIT = 64


@dataclass(frozen=True, slots=True)
class Run:
    rate: float
    """flows/s, wall clock"""
    cpu_rate: float
    """flows per second of this process's CPU time (less swayed by a busy machine)"""
    most: int
    """the most slots of the step held at once (sampled)"""


async def caught_up(engine: Engine) -> None:
    """Until the engine's feed follower has folded every flow's end too.

    The follower lags behind the flows; a run that stopped the clock at the last
    completion would leave more of its work uncounted the faster it went.
    """
    await wait_until(
        lambda: not engine._open_work.activity,  # what the follower has still to see
        "the feed follower caught up",
        timeout=300,
        interval=0.001,
    )


async def run(url: str, flows: int, concurrency: int | None) -> Run:
    """``flows`` one-step flows, all started at once, on one in-process engine."""
    work_config = {} if concurrency is None else {"concurrency": concurrency}
    step = script_step("s0", '{:v0 "hello"}', outputs=["v0"], work_config=work_config)
    most = 0
    async with Engine(url) as engine:
        await engine.register_step(step)

        async def watch() -> None:
            nonlocal most
            while True:
                await asyncio.sleep(0.05)
                most = max(most, len(await engine.store.slot_holders("s0")))

        watching = asyncio.create_task(watch())
        start, cpu = time.perf_counter(), time.process_time()
        ids = await asyncio.gather(*(engine.start_flow(["s0"]) for _ in range(flows)))
        states = await asyncio.gather(*(engine.wait_flow(i, timeout=300) for i in ids))
        await caught_up(engine)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        watching.cancel()
    assert all(state.status == "completed" for state in states)
    return Run(flows / elapsed, flows / cpu, most)


async def main(url: str, flows: int, rounds: int) -> None:
    ratios, cpu_ratios = [], []
    for round_ in range(1, rounds + 1):
        runs = []
        for concurrency in (None, LIMIT):
            prefix = f"argyll-bench-{uuid.uuid4().hex}:"
            try:
                runs.append(await run(f"{url}?prefix={prefix}", flows, concurrency))
            finally:
                await delete_keys(url, f"{prefix}*")
        free, limited = runs
        assert limited.most <= LIMIT, limited.most
        ratios.append(limited.rate / free.rate)
        cpu_ratios.append(limited.cpu_rate / free.cpu_rate)
        print(
            f"round {round_}: {flows} one-step Ale flows, Redis, in-process  "
            f"no limit {free.rate:>6,.0f} flows/s ({free.cpu_rate:>6,.0f}/CPU-s)  "
            f"concurrency {LIMIT} {limited.rate:>6,.0f} flows/s ({limited.cpu_rate:>6,.0f}/CPU-s, "
            f"{limited.most} slots held at most)  "
            f"limited/unlimited {ratios[-1]:.2f} wall, {cpu_ratios[-1]:.2f} CPU"
        )
    print(
        f"median limited/unlimited over {rounds} rounds: {statistics.median(ratios):.2f} wall, "
        f"{statistics.median(cpu_ratios):.2f} per CPU second"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--flows", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    asyncio.run(main(options.url, options.flows, options.rounds))
