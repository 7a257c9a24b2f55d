"""Limits as configuration: each ``argyll serve`` flag reaches what it limits, and is hit."""

from __future__ import annotations

import contextlib

import httpx
import pytest
from server_support import problem, running_api
from test_cli import argyll_serve, parse
from tornado.httpclient import HTTPClientError
from tornado.websocket import websocket_connect

from argyll import Engine
from argyll.cli.serve import engine_options, server_options
from argyll.model import FlowStatus
from argyll.runtime.scripts import DEFAULT_LIMITS, ScriptLimits
from argyll.testing import script_step, wait_until

LIMIT_FLAGS = [
    *("--max-body-size", "2048", "--ws-max-clients", "3", "--ws-queue-size", "7"),
    *("--ale-steps", "500", "--lua-instructions", "4000", "--lua-memory", "1048576"),
]


def test_the_flags_reach_the_engine_and_the_server() -> None:
    options = parse(["serve", *LIMIT_FLAGS])
    assert engine_options(options, "http://x:1")["script_limits"] == ScriptLimits(
        ale_steps=500, lua_instructions=4000, lua_memory=1 << 20
    )
    assert server_options(options) == {
        "max_body_size": 2048,
        "ws_queue_limit": 7,
        "ws_max_clients": 3,
        "tokens": None,
    }
    defaults = parse(["serve"])
    assert engine_options(defaults, "http://x:1")["script_limits"] == DEFAULT_LIMITS


@pytest.mark.parametrize(
    ("limits", "language", "script", "limit"),
    [
        (
            ScriptLimits(ale_steps=500),
            "ale",
            "{:y (reduce + 0 (range 0 100000))}",
            "steps limit (500)",
        ),
        (
            ScriptLimits(lua_instructions=4000),
            "lua",
            "local n = 0 while true do n = n + 1 end",
            "instructions limit (4000)",
        ),
        (
            ScriptLimits(lua_memory=1 << 20),
            "lua",
            "local t = {} while true do t[#t + 1] = {} end",
            f"memory limit ({1 << 20})",
        ),
    ],
    ids=["ale-steps", "lua-instructions", "lua-memory"],
)
async def test_a_script_over_its_limit_fails_its_step(
    limits: ScriptLimits, language: str, script: str, limit: str
) -> None:
    step = script_step("busy", script, outputs=["y"], language=language)
    async with Engine("memory://", script_limits=limits) as engine:
        await engine.register_step(step)
        state = await engine.wait_flow(await engine.start_flow(["busy"]), timeout=20)
    assert state.status is FlowStatus.FAILED
    assert f"script exceeded its {limit}" in state.executions["busy"].error


async def test_one_websocket_client_too_many_is_refused_with_503() -> None:
    async with running_api(ws_max_clients=1) as api:
        url = api.url.replace("http://", "ws://") + "/engine/ws"
        async with api.websocket():
            with pytest.raises(HTTPClientError) as refused:
                await websocket_connect(url, connect_timeout=5)
            assert refused.value.code == 503
            assert refused.value.response is not None
            assert b"--ws-max-clients" in refused.value.response.body

        async def room() -> bool:
            with contextlib.suppress(HTTPClientError):
                (await websocket_connect(url, connect_timeout=5)).close()
                return True
            return False

        await wait_until(room, "the closed client's place to free up")


async def test_the_served_limits_are_hit_with_problems() -> None:
    async with (
        argyll_serve("--store", "memory://", "--no-dashboard", *LIMIT_FLAGS) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        big = script_step("big", "{:y 1}", outputs=["y"], description="x" * 4096)
        body = problem(await client.post("/engine/step", json=big), 413)
        assert "2048" in body["detail"]
        lua = script_step("loop", "while true do end", outputs=["y"], language="lua")
        assert (await client.post("/engine/step", json=lua)).status_code == 201
        request = {"id": "looping", "goals": ["loop"]}
        assert (await client.post("/engine/flow", json=request)).status_code == 201

        async def ended() -> dict | None:
            state = (await client.get("/engine/flow/looping")).json()
            return None if state["status"] == "active" else state

        state = await wait_until(ended, "flow looping to end")
        assert state["status"] == "failed"
        assert "instructions limit (4000)" in state["executions"]["loop"]["error"]
