"""Tables never cut an id short: piped (``argyll flow ls | grep``) each row is one whole
line, and at ``COLUMNS=80`` the id columns keep their width while the others fold."""

from __future__ import annotations

import httpx
import pytest
from cli_support import argyll, chain, ended_flow, ok, register

PREFIX = "warehouse7f3a2c1b9e"
HELLO, SHOUT = f"{PREFIX}-hello", f"{PREFIX}-shout"
NAME, GREETING, LOUD = f"{PREFIX}name", f"{PREFIX}greeting", f"{PREFIX}loud"
FLOW = "order-7f3a2c1b9e-4d5e-8f90-a1b2c3d4e5f6"
PIPED = {"COLUMNS": None}
"""No ``COLUMNS`` and, under the test runner, stdout not a terminal: what a pipe gets."""
NARROW = {"COLUMNS": "80"}

TABLES = {
    "step ls": (("step", "ls"), (HELLO, SHOUT)),
    "step get": (("step", "get", SHOUT), (SHOUT, GREETING, LOUD)),
    "plan": (("plan", SHOUT), (HELLO, SHOUT)),
    "flow ls": (("flow", "ls", "--id-prefix", "order-"), (FLOW,)),
    "flow get": (("flow", "get", FLOW), (FLOW, HELLO, SHOUT, NAME, GREETING, LOUD)),
    "flow events": (("flow", "events", FLOW), (HELLO, SHOUT)),
    "flow explain": (("flow", "explain", FLOW), (FLOW, HELLO, SHOUT)),
    "health": (("health",), (HELLO, SHOUT)),
}


@pytest.fixture(scope="module")
def flow(engine_url: str) -> dict[str, object]:
    """A completed flow whose id, steps and attributes all have long names."""
    register(engine_url, *chain(PREFIX))
    body = {"id": FLOW, "goals": [SHOUT], "init": {NAME: "Ann"}, "labels": {"batch": "nightly"}}
    assert httpx.post(f"{engine_url}/engine/flow", json=body).status_code == 201
    return ended_flow(engine_url, FLOW)


@pytest.mark.parametrize("command", TABLES)
@pytest.mark.parametrize("env", [PIPED, NARROW], ids=["piped", "columns-80"])
def test_every_table_shows_each_id_whole(
    engine_url: str, flow: dict[str, object], command: str, env: dict[str, str | None]
) -> None:
    args, names = TABLES[command]
    shown = ok(argyll(engine_url, *args, env=env))

    for name in names:
        assert name in shown, (name, shown)
    if env is NARROW:
        assert all(len(line) <= 80 for line in shown.splitlines()), shown


def test_a_piped_flow_list_prints_each_row_on_one_line(
    engine_url: str, flow: dict[str, object]
) -> None:
    shown = ok(argyll(engine_url, "flow", "ls", "--id-prefix", "order-", env=PIPED))

    row = next(line for line in shown.splitlines() if FLOW in line)
    assert "completed" in row and str(flow["created_at"]) in row and "batch=nightly" in row
