"""An engine in its own process running one parent flow whose child waits on an HTTP step.

Usage: python subflow_process.py STORE_URL SERVICE_URL INSTANCE_ID LEASE_TTL
"""

import asyncio
import sys

from argyll import Engine


def steps(service_url: str) -> list[dict]:
    """``hold`` (sync HTTP, y from x) inside the child of ``sub``; the parent's goal is ``sub``."""
    return [
        {
            "id": "hold",
            "type": "sync",
            "attributes": {"x": {"role": "required"}, "y": {"role": "output"}},
            "http": {"endpoint": f"{service_url}/hold", "timeout": 60000},
        },
        {
            "id": "sub",
            "type": "flow",
            "flow": {"goals": ["hold"]},
            "attributes": {"x": {"role": "required"}, "y": {"role": "output"}},
        },
    ]


async def main(store: str, service_url: str, instance_id: str, lease_ttl: str) -> None:
    options = {"instance_id": instance_id, "lease_ttl": float(lease_ttl)}
    async with Engine(store, heartbeat_interval=0.1, **options) as engine:
        for definition in steps(service_url):
            await engine.register_step(definition)
        await engine.start_flow(["sub"], {"x": 21}, flow_id="parent")
        print("started", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
