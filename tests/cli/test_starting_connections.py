"""Connections opened while the engine is still starting: each 503 says the server will close
the connection (``Connection: close``) and it does, so a keep-alive client never sends a
request into a connection the server is closing; once ready, connections are kept again.

Tornado cannot keep a connection whose request it answered before reading the body (a
refusal from ``prepare`` of a streaming handler), so saying so is the honest reply.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import h11
import httpx
import pytest

from argyll.runtime.engine import Engine
from argyll.server.app import Server, serve

TIMEOUT = 5.0


class RawConnection:
    """One TCP connection to the server, spoken to with h11 so every header and close shows."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.http = h11.Connection(our_role=h11.CLIENT)

    async def ask(self, method: str, path: str, body: bytes = b"") -> h11.Response:
        """Send one request and read its whole reply."""
        headers = [("Host", "argyll"), ("Content-Length", str(len(body)))]
        self.writer.write(self.http.send(h11.Request(method=method, target=path, headers=headers)))
        self.writer.write(self.http.send(h11.Data(data=body)) or b"")
        self.writer.write(self.http.send(h11.EndOfMessage()) or b"")
        await self.writer.drain()
        reply: h11.Response | None = None
        async with asyncio.timeout(TIMEOUT):
            while True:
                event = self.http.next_event()
                if event is h11.NEED_DATA:
                    self.http.receive_data(await self.reader.read(65536))
                elif isinstance(event, h11.Response):
                    reply = event
                elif isinstance(event, h11.EndOfMessage):
                    assert reply is not None
                    return reply

    async def closed_by_server(self) -> bool:
        """Whether the server ends the connection (bounded wait)."""
        async with asyncio.timeout(TIMEOUT):
            return await self.reader.read(1) == b""

    def next_request(self) -> None:
        self.http.start_next_cycle()


def header(reply: h11.Response, name: str) -> str | None:
    values = [value.decode() for key, value in reply.headers if key == name.encode()]
    return values[-1] if values else None


@pytest.fixture
async def starting() -> AsyncIterator[tuple[Engine, Server]]:
    """A server bound before its engine has started (as ``argyll serve`` does)."""
    engine = Engine("memory://")
    server = await serve(engine, port=0)
    try:
        yield engine, server
    finally:
        await server.aclose()
        await engine.aclose()


async def connect(server: Server) -> RawConnection:
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    return RawConnection(*await asyncio.open_connection(host, int(port)))


@pytest.mark.parametrize(("method", "body"), [("GET", b""), ("POST", b'{"goals": ["x"]}')])
async def test_a_503_while_starting_says_connection_close_and_closes(
    starting: tuple[Engine, Server], method: str, body: bytes
) -> None:
    _, server = starting
    path = "/health" if method == "GET" else "/engine/flow"
    connection = await connect(server)
    try:
        reply = await connection.ask(method, path, body)
        assert reply.status_code == 503
        assert header(reply, "retry-after") == "1"
        assert header(reply, "connection") == "close"
        assert connection.http.their_state is h11.MUST_CLOSE
        assert await connection.closed_by_server()
    finally:
        connection.writer.close()


async def test_once_ready_one_connection_carries_many_requests(
    starting: tuple[Engine, Server],
) -> None:
    engine, server = starting
    await engine.start()
    connection = await connect(server)
    try:
        for _ in range(3):
            reply = await connection.ask("GET", "/health")
            assert reply.status_code == 200
            assert header(reply, "connection") is None
            connection.next_request()
    finally:
        connection.writer.close()


async def test_one_keep_alive_client_asks_through_start_up_without_a_transport_error(
    starting: tuple[Engine, Server],
) -> None:
    engine, server = starting
    opened: list[str] = []

    async def trace(name: str, _info: object) -> None:
        if name == "connection.connect_tcp.complete":
            opened.append(name)

    async with httpx.AsyncClient(base_url=server.url, timeout=TIMEOUT) as client:

        async def health() -> httpx.Response:
            return await client.get("/health", extensions={"trace": trace})

        during = [await health() for _ in range(20)]
        await engine.start()
        after = [await health() for _ in range(5)]
    assert {reply.status_code for reply in during} == {503}
    assert all(reply.headers["connection"] == "close" for reply in during)
    assert {reply.status_code for reply in after} == {200}
    assert len(opened) == len(during) + 1, "one connection per 503, then one kept"
