"""What history costs: Redis memory and SQLite bytes per completed one-step flow.

Run: python -m bench.flow_memory [--url redis://127.0.0.1:6379/0] [--flows 2000]

Runs ``--flows`` one-step Ale flows through an in-process engine on a fresh Redis
prefix and on a fresh SQLite file, then prints, per flow: the sum of ``MEMORY
USAGE`` over every key of the prefix (less what the catalog alone takes), each
kind of key's part of it, and the SQLite file's bytes after a checkpoint (less the
empty file). Goal: ≤ 3 KiB per flow on Redis; it exits 1 when Redis takes more.
Every key it makes is deleted.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sqlite3
import tempfile
import uuid
from pathlib import Path

import redis.asyncio as aioredis

from argyll import Engine
from bench.core import chain_steps
from bench.redis import delete_keys

GOAL_BYTES = 3 * 1024
KIND = re.compile(r"\{[^}]*\}:([a-z_]+)")
"""A key's kind: the first word after its hash tag (feed, stream, flows, snapshot, ...)."""


async def run_one_step_flows(url: str, flows: int) -> None:
    async with Engine(url) as engine:
        for definition in chain_steps(1):
            await engine.register_step(definition)
        ids = await asyncio.gather(*(engine.start_flow(["s0"]) for _ in range(flows)))
        await asyncio.gather(*(engine.wait_flow(flow_id, timeout=120) for flow_id in ids))


async def redis_usage(url: str, prefix: str) -> dict[str, int]:
    """Bytes by key kind under ``prefix``, from MEMORY USAGE with every element sampled."""
    client = aioredis.Redis.from_url(url)
    usage: dict[str, int] = {}
    try:
        async for key in client.scan_iter(match=f"{prefix}*", count=1000):
            found = KIND.search(key.decode())
            kind = found.group(1) if found else "other"
            usage[kind] = usage.get(kind, 0) + (await client.memory_usage(key, samples=0) or 0)
    finally:
        await client.aclose()
    return usage


async def redis_per_flow(url: str, flows: int) -> tuple[float, dict[str, float]]:
    prefix = f"argyll-bench-{uuid.uuid4().hex}:"
    store_url = f"{url}{'&' if '?' in url else '?'}prefix={prefix}"
    try:
        await run_one_step_flows(store_url, 0)
        empty = await redis_usage(url, prefix)
        await run_one_step_flows(store_url, flows)
        used = await redis_usage(url, prefix)
    finally:
        await delete_keys(url, f"{prefix}*")
    kinds = {kind: (used[kind] - empty.get(kind, 0)) / flows for kind in sorted(used)}
    return sum(kinds.values()), kinds


async def sqlite_per_flow(flows: int) -> float:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "history.db"
        await run_one_step_flows(f"sqlite:///{path}", 0)
        empty = _checkpointed_size(path)
        await run_one_step_flows(f"sqlite:///{path}", flows)
        return (_checkpointed_size(path) - empty) / flows


def _checkpointed_size(path: Path) -> int:
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    return path.stat().st_size


async def main(url: str, flows: int) -> int:
    total, kinds = await redis_per_flow(url, flows)
    parts = ", ".join(f"{kind} {size:,.0f} B" for kind, size in kinds.items())
    print(f"Redis   {total / 1024:6.2f} KiB per completed one-step flow ({parts}); goal ≤ 3 KiB")
    print(f"SQLite  {await sqlite_per_flow(flows) / 1024:6.2f} KiB per completed one-step flow")
    return 0 if total <= GOAL_BYTES else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--flows", type=int, default=2000)
    options = parser.parse_args()
    raise SystemExit(asyncio.run(main(options.url, options.flows)))
