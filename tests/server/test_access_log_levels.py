"""The access line's level: a starting engine's 503 is an answer (info), a fault is an error."""

from __future__ import annotations

import logging

import httpx
import pytest

from argyll.runtime.engine import Engine
from argyll.server.app import bind, serve


async def test_a_503_while_the_engine_starts_is_logged_as_info_not_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sockets = bind("127.0.0.1", 0)
    engine = Engine("memory://")
    server = await serve(engine, sockets=sockets)
    try:
        with caplog.at_level(logging.DEBUG, logger="argyll.access"):
            async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
                starting = await client.get("/engine/step")
                await engine.start()
                missing = await client.get("/engine/step/nope")
    finally:
        await server.aclose()
        await engine.aclose()
    assert (starting.status_code, missing.status_code) == (503, 404)
    levels = {
        record.getMessage().split("status=")[1].split()[0]: record.levelno
        for record in caplog.records
        if "status=" in record.getMessage()
    }
    assert levels == {"503": logging.INFO, "404": logging.INFO}
