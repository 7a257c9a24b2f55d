"""An engine in its own process, for tests that kill it mid-flow.

Usage: python engine_process.py STORE_URL SERVICE_URL FLOWS [INSTANCE_ID LEASE_TTL]
"""

import asyncio
import sys

from argyll import Engine
from argyll.testing import script_step


def steps(service_url: str) -> list[dict]:
    return [
        script_step("a", "{:x (+ n 1)}", requires=["n"], outputs=["x"]),
        {
            "id": "b",
            "type": "sync",
            "attributes": {"x": {"role": "required"}, "y": {"role": "output"}},
            "http": {"endpoint": f"{service_url}/b", "timeout": 60000},
        },
        script_step("c", "{:z (* y 10)}", requires=["y"], outputs=["z"]),
    ]


async def main(store: str, service_url: str, flows: int, *lease: str) -> None:
    options = {"instance_id": lease[0], "lease_ttl": float(lease[1])} if lease else {}
    async with Engine(store, heartbeat_interval=0.1, **options) as engine:
        for definition in steps(service_url):
            await engine.register_step(definition)
        for i in range(flows):
            await engine.start_flow(["c"], {"n": i}, flow_id=f"flow-{i}")
        print("started", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), *sys.argv[4:]))
