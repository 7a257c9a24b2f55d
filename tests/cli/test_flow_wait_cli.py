"""``argyll flow wait ID``: the engine holds the read until the flow ends; exit 4 unless done."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from cli_support import argyll, chain, ok, printed, register

from argyll.testing import script_step


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """An address that takes connections and never answers: a step called there hangs."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/"


def test_wait_shows_the_final_state_of_a_flow(engine_url: str) -> None:
    register(engine_url, *chain("fw"))
    request = {"id": "fw-1", "goals": ["fw-shout"], "init": {"fwname": "Ed"}}
    assert httpx.post(f"{engine_url}/engine/flow", json=request).status_code == 201
    assert "Hello, Ed!" in ok(argyll(engine_url, "flow", "wait", "fw-1"))
    as_json = ok(argyll(engine_url, "flow", "wait", "fw-1", "-o", "json"))
    assert as_json == printed(httpx.get(f"{engine_url}/engine/flow/fw-1"))


def test_wait_exits_4_for_a_failed_flow(engine_url: str) -> None:
    register(engine_url, script_step("fw-broken", '(raise "no such")', requires=["fwx"]))
    request = {"id": "fw-2", "goals": ["fw-broken"], "init": {"fwx": 1}}
    assert httpx.post(f"{engine_url}/engine/flow", json=request).status_code == 201
    failed = argyll(engine_url, "-o", "json", "flow", "wait", "fw-2")
    assert failed.exit_code == 4, failed.stderr
    assert json.loads(failed.stdout)["status"] == "failed"


def test_wait_gives_up_after_its_timeout(engine_url: str, silent_endpoint: str) -> None:
    step = {
        "id": "fw-hang",
        "type": "sync",
        "attributes": {"out": {"role": "output"}},
        "http": {"endpoint": silent_endpoint, "timeout": 60000},
    }
    register(engine_url, step)
    request = {"id": "fw-3", "goals": ["fw-hang"]}
    assert httpx.post(f"{engine_url}/engine/flow", json=request).status_code == 201
    began = time.monotonic()
    waited = argyll(engine_url, "flow", "wait", "fw-3", "--timeout", "0.5")
    assert 0.5 <= time.monotonic() - began < 5
    assert waited.exit_code == 4
    assert "still running after 0.5 s" in waited.stderr
    assert httpx.post(f"{engine_url}/engine/flow/fw-3/cancel").status_code == 200


def test_wait_for_an_unknown_flow_is_refused(engine_url: str) -> None:
    refused = argyll(engine_url, "flow", "wait", "fw-nobody")
    assert refused.exit_code == 1
    assert "not found (HTTP 404)" in refused.stderr
