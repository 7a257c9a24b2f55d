"""An in-process engine served on loopback: what a notebook or a test needs for HTTP steps.

```python
from argyll.server.local import serve_engine

async with await serve_engine() as local:   # Engine + REST API + webhooks, on a free port
    flow_id = await local.engine.start_flow(["greet"], {"name": "Ann"})
```

The port is bound before the engine starts, so the webhook URLs it hands to
async steps reach the very server that answers them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Self

from argyll.runtime.engine import Engine
from argyll.server.app import Server, base_url, bind, serve
from argyll.store import EventStore


@dataclass(slots=True)
class LocalEngine:
    """An in-process ``Engine`` with its REST API, WebSocket and webhooks served on loopback."""

    engine: Engine
    server: Server

    @property
    def url(self) -> str:
        return self.server.url

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.server.aclose()
        await self.engine.aclose()


async def serve_engine(
    store: str | EventStore = "memory://",
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    **engine_options: Any,
) -> LocalEngine:
    """Start an ``Engine`` and serve it, its webhook base URL being the served address.

    Args:
        store: a store URL or an open ``EventStore``.
        host, port: where to listen (port 0: a free port; see ``LocalEngine.url``).
        engine_options: passed on to ``Engine``.
    """
    sockets = bind(host, port)
    engine = Engine(store, webhook_base_url=base_url(sockets[0]), **engine_options)
    await engine.start()
    return LocalEngine(engine, await serve(engine, sockets=sockets))
