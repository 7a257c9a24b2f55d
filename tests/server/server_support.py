"""What the server tests share: a served engine on loopback, its client, step definitions."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

import httpx
from tornado.websocket import WebSocketClientConnection, websocket_connect

from argyll import Engine
from argyll.server.app import Server, base_url, bind, serve
from argyll.testing import script_step, wait_until

PROBLEM_KEYS = {"type", "title", "status", "detail"}
SMALL_BODY_LIMIT = 64 * 1024

HELLO = script_step(
    "hello", '{:greeting (str "Hello, " name)}', requires=["name"], outputs=["greeting"]
)
SHOUT = script_step("shout", '{:loud (str greeting "!")}', requires=["greeting"], outputs=["loud"])


def async_step(
    step_id: str, endpoint: str, requires: Iterable[str], outputs: Iterable[str]
) -> dict[str, Any]:
    """An async HTTP step: the service acknowledges, the result comes to the webhook."""
    attributes = {name: {"role": "required"} for name in requires}
    attributes.update({name: {"role": "output"} for name in outputs})
    return {
        "id": step_id,
        "type": "async",
        "attributes": attributes,
        "http": {"endpoint": endpoint, "timeout": 5000},
    }


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The problem+json body of an error response, after checking its shape."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body.keys() >= PROBLEM_KEYS
    assert body["status"] == status
    assert isinstance(body["detail"], str) and body["detail"]
    return body


@dataclass
class Api:
    engine: Engine
    server: Server
    client: httpx.AsyncClient

    @property
    def url(self) -> str:
        return self.server.url

    async def flow_status(self, flow_id: str) -> str:
        response = await self.client.get(f"/engine/flow/{flow_id}/status")
        assert response.status_code == 200, response.text
        return response.json()["status"]

    async def wait_flow(self, flow_id: str, status: str = "completed") -> dict[str, Any]:
        """The flow's state once it is no longer active; asserts it ended as ``status``."""
        ended = await wait_until(lambda: _ended(self, flow_id), f"flow {flow_id} to end")
        assert ended == status
        return (await self.client.get(f"/engine/flow/{flow_id}")).json()

    async def snapshot(self) -> tuple[Any, ...]:
        """What a refused request must leave unchanged: catalog and flows."""
        engine = (await self.client.get("/engine")).json()
        flows = (await self.client.get("/engine/flow")).json()
        return engine["steps"], engine["last_updated"], flows

    @contextlib.asynccontextmanager
    async def websocket(self, query: str = "") -> AsyncIterator[WebSocketClientConnection]:
        """A client of ``/engine/ws`` + ``query``, closed on the way out."""
        ws_url = self.url.replace("http://", "ws://") + "/engine/ws" + query
        connection = await websocket_connect(ws_url, connect_timeout=5)
        try:
            yield connection
        finally:
            connection.close()


async def _ended(api: Api, flow_id: str) -> str | None:
    status = await api.flow_status(flow_id)
    return None if status == "active" else status


async def read_event(
    connection: WebSocketClientConnection, timeout: float = 5.0
) -> dict[str, Any] | None:
    """The next event from a WebSocket, or None once it is closed."""
    async with asyncio.timeout(timeout):
        message = await connection.read_message()
    return None if message is None else json.loads(message)


async def next_event(connection: WebSocketClientConnection) -> dict[str, Any]:
    """The next event from a WebSocket that must still be open."""
    event = await read_event(connection)
    assert event is not None, "the socket closed"
    return event


@contextlib.asynccontextmanager
async def running_api(store: str = "memory://", **options: Any) -> AsyncIterator[Api]:
    """An engine on ``store`` served on a free loopback port, and a client for it.

    The port is bound first so the engine's webhook base URL is the served address.
    """
    sockets = bind("127.0.0.1", 0)
    async with Engine(store, webhook_base_url=base_url(sockets[0])) as engine:
        server = await serve(engine, sockets=sockets, **options)
        try:
            async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
                yield Api(engine, server, client)
        finally:
            await server.aclose()
