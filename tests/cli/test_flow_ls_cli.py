"""``argyll flow ls``: the query's filters as options, a page at a time with ``--cursor``
(printed after the table), or ``--all`` pages; ``-o json`` prints the page as the API does."""

from __future__ import annotations

import json

import httpx
from cli_support import argyll, chain, ended_flow, ok, printed, register


def start(url: str, flow_id: str, goal: str, *labels: str) -> None:
    body = {"id": flow_id, "goals": [goal], "init": {"qsname": "Ann"}}
    body["labels"] = dict(label.split("=") for label in labels)
    assert httpx.post(f"{url}/engine/flow", json=body).status_code == 201
    ended_flow(url, flow_id)


def ids(output: str) -> list[str]:
    return [flow["id"] for flow in json.loads(output)["flows"]]


def test_flow_ls_filters_and_pages(engine_url: str) -> None:
    register(engine_url, *chain("qs"))
    start(engine_url, "qs-1", "qs-hello", "batch=q")
    start(engine_url, "qs-2", "qs-shout", "batch=q", "tier=1")
    start(engine_url, "qs-3", "qs-hello", "batch=q")
    start(engine_url, "qt-4", "qs-shout", "batch=q", "tier=1")
    batch = ("-o", "json", "flow", "ls", "--label", "batch=q")

    assert ids(ok(argyll(engine_url, *batch))) == ["qt-4", "qs-3", "qs-2", "qs-1"]
    assert ids(ok(argyll(engine_url, *batch, "--goal", "qs-shout"))) == ["qt-4", "qs-2"]
    assert ids(ok(argyll(engine_url, *batch, "--id-prefix", "qs-", "--oldest-first"))) == [
        "qs-1",
        "qs-2",
        "qs-3",
    ]
    assert ids(ok(argyll(engine_url, *batch, "--label", "tier=1", "--status", "failed"))) == []
    assert ids(ok(argyll(engine_url, *batch, "--parent", "qs-1"))) == []
    both = ("--status", "failed", "--status", "completed")
    assert ids(ok(argyll(engine_url, *batch, *both, "--label", "tier=1"))) == ["qt-4", "qs-2"]
    created = json.loads(ok(argyll(engine_url, *batch)))["flows"]
    between = ("--created-after", created[2]["created_at"])
    between += ("--created-before", created[0]["created_at"])  # times shown to the millisecond
    listed = ids(ok(argyll(engine_url, *batch, *between)))
    assert "qs-3" in listed and "qt-4" not in listed and "qs-1" not in listed

    first = ok(argyll(engine_url, *batch, "--limit", "3"))
    assert first == printed(
        httpx.get(f"{engine_url}/engine/flow", params={"label": "batch=q", "limit": "3"})
    )
    cursor = json.loads(first)["next_cursor"]
    assert ids(ok(argyll(engine_url, *batch, "--limit", "3", "--cursor", cursor))) == ["qs-1"]
    every = json.loads(ok(argyll(engine_url, *batch, "--limit", "1", "--all")))
    assert every == {**json.loads(ok(argyll(engine_url, *batch))), "count": 4}

    table = argyll(engine_url, "flow", "ls", "--label", "batch=q", "--limit", "2")
    assert "qt-4" in ok(table) and "qs-2" not in table.stdout
    assert table.stderr.startswith("more: --cursor ")
    rest = table.stderr.split()[-1]
    assert "qs-2" in ok(argyll(engine_url, "flow", "ls", "--label", "batch=q", "--cursor", rest))


def test_flow_ls_refuses_a_bad_cursor_naming_it(engine_url: str) -> None:
    refused = argyll(engine_url, "flow", "ls", "--cursor", "nonsense")

    assert refused.exit_code == 1
    assert "cursor" in refused.stderr and "(HTTP 400)" in refused.stderr
