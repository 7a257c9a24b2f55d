"""The operating commands against a live ``argyll serve``: ``flow cancel|pause|resume|retry|
explain``, ``flow step complete|skip`` and ``flow start --timeout``.

Each prints the engine's message (``-o json``: its reply as sent), and a refusal exits 1
with the engine's detail on stderr and nothing on stdout, as the other commands do.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
from cli_support import argyll, detail, ended_flow, finish, ok, printed, register, spawn
from cli_support import unused_port as free_port
from click.testing import CliRunner

from argyll.cli import cli
from argyll.testing import script_step


def failing_chain(url: str, prefix: str) -> tuple[str, str]:
    """``{prefix}-boom`` (a script that fails) feeding ``{prefix}-after``: their ids."""
    boom, after = f"{prefix}-boom", f"{prefix}-after"
    register(
        url,
        script_step(
            boom, '(raise "no such service")', requires=[f"{prefix}x"], outputs=[f"{prefix}y"]
        ),
        script_step(
            after,
            f'{{:{prefix}z (str {prefix}y "!")}}',
            requires=[f"{prefix}y"],
            outputs=[f"{prefix}z"],
            name="After Boom",
        ),
    )
    return boom, after


def failed_flow(url: str, prefix: str, flow_id: str) -> dict[str, Any]:
    """A flow of ``failing_chain`` that has failed: its state."""
    request = {"id": flow_id, "goals": [f"{prefix}-after"], "init": {f"{prefix}x": 1}}
    assert httpx.post(f"{url}/engine/flow", json=request).status_code == 201
    state = ended_flow(url, flow_id)
    assert state["status"] == "failed", state
    return state


def waiting_flow(url: str, prefix: str, flow_id: str) -> str:
    """A flow whose only step is async and never hears back (its service is the engine's
    own ``/health``, which accepts every call): it stays active until someone acts."""
    register(
        url,
        {
            "id": f"{prefix}-wait",
            "type": "async",
            "attributes": {f"{prefix}in": {"role": "required"}, f"{prefix}ok": {"role": "output"}},
            "http": {"endpoint": f"{url}/health", "method": "GET"},
        },
    )
    request = {"id": flow_id, "goals": [f"{prefix}-wait"], "init": {f"{prefix}in": 1}}
    assert httpx.post(f"{url}/engine/flow", json=request).status_code == 201
    return flow_id


def events(url: str, flow_id: str) -> list[dict[str, Any]]:
    return httpx.get(f"{url}/engine/flow/{flow_id}/events").json()["events"]


def status(url: str, flow_id: str) -> str:
    return httpx.get(f"{url}/engine/flow/{flow_id}/status").json()["status"]


def refused(result: Any, expected: httpx.Response) -> None:
    """Exit 1, the engine's detail and status on stderr (as it answered ``expected``)."""
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert result.stderr == f"argyll: {detail(expected)} (HTTP {expected.status_code})\n"
    assert result.stdout == ""


# ---------------------------------------------------- pause, resume, cancel


def test_pause_resume_and_cancel_print_the_message_or_the_reply(engine_url: str) -> None:
    flow_id = waiting_flow(engine_url, "pr", "pr-1")

    assert ok(argyll(engine_url, "flow", "pause", flow_id)) == 'flow "pr-1" paused\n'
    assert status(engine_url, flow_id) == "paused"
    resumed = ok(argyll(engine_url, "-o", "json", "flow", "resume", flow_id, "--reason", "go"))
    assert resumed.endswith("}\n") and resumed.count("\n") == 1
    assert json.loads(resumed) == {
        "message": 'flow "pr-1" resumed',
        "flow_id": "pr-1",
        "status": "active",
    }
    canceled = ok(argyll(engine_url, "flow", "cancel", flow_id, "--reason", "not needed"))
    assert canceled == 'flow "pr-1" canceled\n'
    other = waiting_flow(engine_url, "pj", "pj-1")
    answer = ok(argyll(engine_url, "-o", "json", "flow", "cancel", other))
    assert json.loads(answer) == {
        "message": 'flow "pj-1" canceled',
        "flow_id": "pj-1",
        "status": "canceled",
    }
    assert status(engine_url, flow_id) == "canceled"

    operated = [e for e in events(engine_url, flow_id) if e["type"].startswith("flow_")]
    assert [(e["type"], e["data"].get("actor"), e["data"].get("reason")) for e in operated] == [
        ("flow_started", "anonymous", None),
        ("flow_paused", "anonymous", None),
        ("flow_resumed", "anonymous", "go"),
        ("flow_canceled", "anonymous", "not needed"),
    ]
    table = ok(argyll(engine_url, "flow", "events", flow_id)).splitlines()
    canceled_row = next(row for row in table if "flow_canceled" in row)
    assert "by anonymous; reason: not needed" in canceled_row
    skipped_row = next(row for row in table if "step_skipped" in row)
    assert "reason: flow canceled" in skipped_row and "by " not in skipped_row


def test_pause_resume_and_cancel_in_the_wrong_status_exit_1_with_the_409(
    engine_url: str,
) -> None:
    flow_id = waiting_flow(engine_url, "ws", "ws-1")
    before = events(engine_url, flow_id)
    expected = httpx.post(f"{engine_url}/engine/flow/{flow_id}/resume", json={})
    assert expected.status_code == 409  # an active flow is not paused
    for output in ("table", "json"):
        refused(argyll(engine_url, "-o", output, "flow", "resume", flow_id), expected)
    assert events(engine_url, flow_id) == before
    ok(argyll(engine_url, "flow", "cancel", flow_id))
    ended = events(engine_url, flow_id)
    for command in ("pause", "resume", "cancel"):
        expected = httpx.post(f"{engine_url}/engine/flow/{flow_id}/{command}", json={})
        assert expected.status_code == 409
        for output in ("table", "json"):
            refused(argyll(engine_url, "-o", output, "flow", command, flow_id), expected)
    assert events(engine_url, flow_id) == ended


# -------------------------------------------------------------------- retry


def test_retry_completes_a_step_by_hand_from_a_file(engine_url: str, tmp_path: Path) -> None:
    boom, after = failing_chain(engine_url, "rc")
    failed_flow(engine_url, "rc", "rc-1")
    outputs = tmp_path / "outputs.json"
    outputs.write_text('{"rcy": "fixed"}')

    args = ("flow", "retry", "rc-1", "--complete", f"{boom}=@{outputs}", "--reason", "by hand")
    assert ok(argyll(engine_url, *args)) == 'flow "rc-1" retried\n'
    state = ended_flow(engine_url, "rc-1")
    assert state["status"] == "completed"
    assert state["attributes"]["rcz"] == {"value": "fixed!", "step": after}
    by_hand = next(e for e in events(engine_url, "rc-1") if e["type"] == "step_completed")
    assert by_hand["data"] == {
        "flow_id": "rc-1",
        "step_id": boom,
        "outputs": {"rcy": "fixed"},
        "actor": "anonymous",
        "reason": "by hand",
    }


def test_retry_with_steps_and_skips_prints_the_reply(engine_url: str) -> None:
    boom, after = failing_chain(engine_url, "rs")
    failed_flow(engine_url, "rs", "rs-1")
    answer = ok(argyll(engine_url, "-o", "json", "flow", "retry", "rs-1", "--step", boom))
    assert json.loads(answer) == {
        "message": 'flow "rs-1" retried',
        "flow_id": "rs-1",
        "status": "active",
    }
    assert ended_flow(engine_url, "rs-1")["status"] == "failed"  # the same script fails again
    retried = [e["data"] for e in events(engine_url, "rs-1") if e["type"] == "flow_retried"]
    assert retried == [{"flow_id": "rs-1", "steps": [after, boom], "actor": "anonymous"}]

    ok(argyll(engine_url, "flow", "retry", "rs-1", "--skip", boom, "--reason", "not today"))
    state = ended_flow(engine_url, "rs-1")
    assert state["executions"][boom]["status"] == "skipped"
    assert state["status"] == "completed"  # the goal was skipped, which completes a flow


def test_retry_refusals_exit_1_and_change_nothing(engine_url: str) -> None:
    boom, _ = failing_chain(engine_url, "rr")
    failed_flow(engine_url, "rr", "rr-1")
    before = events(engine_url, "rr-1")
    retry = f"{engine_url}/engine/flow/rr-1/retry"
    cases = [
        (("--step", "nope"), httpx.post(retry, json={"steps": ["nope"]}), 400),
        (("--skip", "nope"), httpx.post(retry, json={"skip": ["nope"]}), 400),
        (
            ("--complete", f'{boom}={{"rrq": 1}}'),
            httpx.post(retry, json={"complete": {boom: {"rrq": 1}}}),
            400,
        ),
    ]
    for args, expected, code in cases:
        assert expected.status_code == code, expected.text
        for output in ("table", "json"):
            refused(argyll(engine_url, "-o", output, "flow", "retry", "rr-1", *args), expected)
    assert events(engine_url, "rr-1") == before

    waiting_flow(engine_url, "ra", "ra-1")
    expected = httpx.post(f"{engine_url}/engine/flow/ra-1/retry", json={})
    assert expected.status_code == 409
    refused(argyll(engine_url, "flow", "retry", "ra-1"), expected)


# ------------------------------------------------------------- unknown flow


def test_every_operating_command_on_an_unknown_flow_exits_1_with_the_404(
    engine_url: str,
) -> None:
    base = f"{engine_url}/engine/flow/nope"
    cases = [
        (("cancel", "nope"), httpx.post(f"{base}/cancel", json={})),
        (("pause", "nope", "--reason", "r"), httpx.post(f"{base}/pause", json={})),
        (("resume", "nope"), httpx.post(f"{base}/resume", json={})),
        (("retry", "nope", "--step", "s"), httpx.post(f"{base}/retry", json={"steps": ["s"]})),
        (("explain", "nope"), httpx.get(f"{base}/explain")),
        (
            ("step", "complete", "nope", "s", "--outputs", "{}"),
            httpx.post(f"{base}/step/s/complete", json={"outputs": {}}),
        ),
        (("step", "skip", "nope", "s"), httpx.post(f"{base}/step/s/skip", json={})),
    ]
    for args, expected in cases:
        assert expected.status_code == 404, (args, expected.text)
        for output in ("table", "json"):
            refused(argyll(engine_url, "-o", output, "flow", *args), expected)


# ------------------------------------------------------------------ explain


def test_explain_shows_plain_words_and_the_apis_json(engine_url: str) -> None:
    boom, after = failing_chain(engine_url, "ex")
    failed_flow(engine_url, "ex", "ex-1")

    table = ok(argyll(engine_url, "flow", "explain", "ex-1")).splitlines()
    headers = ["STEP", "STATUS", "REASON", "EXPLANATION"]
    assert any([cell.strip() for cell in row.split("┃")[1:-1]] == headers for row in table)
    boom_row = next(row for row in table if row.startswith(f"│ {boom} "))
    assert "failed after 1 attempt: script error: no such service" in boom_row
    after_row = next(row for row in table if row.startswith(f"│ {after} "))
    assert "inputs_unreachable" in after_row and f'cannot run: "exy": {boom} (failed)' in after_row

    as_json = ok(argyll(engine_url, "flow", "explain", "ex-1", "-o", "json"))
    assert as_json == printed(httpx.get(f"{engine_url}/engine/flow/ex-1/explain"))
    assert json.loads(as_json)["steps"][boom]["reason"] == "failed"


def test_explain_names_the_providers_a_step_waits_for(engine_url: str) -> None:
    failing_chain(engine_url, "en")
    register(
        engine_url,
        script_step("en-last", '{:enw (str enz "?")}', requires=["enz"], outputs=["enw"]),
    )
    request = {"id": "en-1", "goals": ["en-last"], "init": {"enx": 1}}
    assert httpx.post(f"{engine_url}/engine/flow", json=request).status_code == 201
    assert ended_flow(engine_url, "en-1")["status"] == "failed"
    shown = ok(argyll(engine_url, "flow", "explain", "en-1"))
    assert "After Boom (failed)" in shown  # the provider of enz, by its name


def test_explain_of_an_unknown_flow_exits_1(engine_url: str) -> None:
    expected = httpx.get(f"{engine_url}/engine/flow/nope/explain")
    assert expected.status_code == 404
    for output in ("table", "json"):
        refused(argyll(engine_url, "-o", output, "flow", "explain", "nope"), expected)


# ------------------------------------------------------------ steps by hand


def test_step_complete_resolves_a_waiting_step(engine_url: str) -> None:
    flow_id = waiting_flow(engine_url, "sc", "sc-1")
    args = ("flow", "step", "complete", flow_id, "sc-wait", "--outputs", '{"scok": true}')
    done = ok(argyll(engine_url, *args, "--reason", "approved on the phone"))
    assert done == 'flow "sc-1" step "sc-wait" completed by hand\n'
    state = ended_flow(engine_url, flow_id)
    assert state["status"] == "completed"
    assert state["attributes"]["scok"] == {"value": True, "step": "sc-wait"}

    again = httpx.post(
        f"{engine_url}/engine/flow/{flow_id}/step/sc-wait/complete", json={"outputs": {}}
    )
    assert again.status_code == 409
    for output in ("table", "json"):
        refused(argyll(engine_url, "-o", output, *args), again)


def test_step_complete_prints_the_reply_and_skip_the_message(engine_url: str) -> None:
    completed = waiting_flow(engine_url, "cj", "cj-1")
    args = ("flow", "step", "complete", completed, "cj-wait", "--outputs", '{"cjok": 1}')
    assert json.loads(ok(argyll(engine_url, "-o", "json", *args))) == {
        "message": 'flow "cj-1" step "cj-wait" completed by hand',
        "flow_id": "cj-1",
        "status": "completed",
    }
    skipped = waiting_flow(engine_url, "st", "st-1")
    args = ("flow", "step", "skip", skipped, "st-wait", "--reason", "done elsewhere")
    assert ok(argyll(engine_url, *args)) == 'flow "st-1" step "st-wait" skipped by hand\n'
    again = httpx.post(f"{engine_url}/engine/flow/{skipped}/step/st-wait/skip", json={})
    assert again.status_code == 409
    for output in ("table", "json"):
        refused(argyll(engine_url, "-o", output, *args), again)


def test_step_skip_prints_the_reply(engine_url: str) -> None:
    flow_id = waiting_flow(engine_url, "sk", "sk-1")
    answer = ok(argyll(engine_url, "-o", "json", "flow", "step", "skip", flow_id, "sk-wait"))
    assert json.loads(answer) == {
        "message": 'flow "sk-1" step "sk-wait" skipped by hand',
        "flow_id": "sk-1",
        "status": "completed",
    }
    skipped = [e["data"] for e in events(engine_url, flow_id) if e["type"] == "step_skipped"]
    assert skipped == [
        {"flow_id": "sk-1", "step_id": "sk-wait", "reason": "skipped by hand", "actor": "anonymous"}
    ]


def test_step_refusals_exit_1_and_change_nothing(engine_url: str) -> None:
    flow_id = waiting_flow(engine_url, "sr", "sr-1")
    before = events(engine_url, flow_id)
    base = f"{engine_url}/engine/flow"
    cases = [
        (
            ("complete", flow_id, "sr-wait", "--outputs", '{"nope": 1}'),
            httpx.post(f"{base}/{flow_id}/step/sr-wait/complete", json={"outputs": {"nope": 1}}),
            400,
        ),
        (
            ("complete", flow_id, "nope", "--outputs", "{}"),
            httpx.post(f"{base}/{flow_id}/step/nope/complete", json={"outputs": {}}),
            404,
        ),
        (("skip", flow_id, "nope"), httpx.post(f"{base}/{flow_id}/step/nope/skip", json={}), 404),
        (("skip", "nope", "sr-wait"), httpx.post(f"{base}/nope/step/sr-wait/skip", json={}), 404),
    ]
    for args, expected, code in cases:
        assert expected.status_code == code, expected.text
        for output in ("table", "json"):
            refused(argyll(engine_url, "-o", output, "flow", "step", *args), expected)
    assert events(engine_url, flow_id) == before


# -------------------------------------------------------------- start --timeout


def test_start_timeout_fails_the_flow_saying_it_timed_out(engine_url: str) -> None:
    waiting = {
        "id": "to-wait",
        "type": "async",
        "attributes": {"toin": {"role": "required"}, "took": {"role": "output"}},
        "http": {"endpoint": f"{engine_url}/health", "method": "GET"},
    }
    register(engine_url, waiting)
    args = ("flow", "start", "to-wait", "--init", '{"toin": 1}', "--id", "to-1")
    failed = argyll(engine_url, *args, "--timeout", "200", "--wait")
    assert failed.exit_code == 4, failed.stderr
    assert "flow to-1 failed" in failed.stderr and "timed out after 200 ms" in failed.stderr
    started = events(engine_url, "to-1")[0]["data"]
    assert "deadline" in started

    expected = httpx.post(
        f"{engine_url}/engine/flow", json={"goals": ["to-wait"], "init": {"toin": 1}, "timeout": 0}
    )
    assert expected.status_code == 400
    args = ("flow", "start", "to-wait", "--init", '{"toin": 1}', "--timeout", "0")
    refused(argyll(engine_url, *args), expected)


# ------------------------------------------------------- usage and transport


def test_usage_errors_exit_2(engine_url: str, tmp_path: Path) -> None:
    for args in (
        ("flow", "cancel"),
        ("flow", "retry", "x", "--complete", "boom"),
        ("flow", "retry", "x", "--complete", "=1"),
        ("flow", "retry", "x", "--complete", "boom=[1]"),
        ("flow", "retry", "x", "--complete", f"boom=@{tmp_path / 'missing.json'}"),
        ("flow", "step", "complete", "x", "s"),
        ("flow", "step", "complete", "x", "s", "--outputs", "{nope"),
        ("flow", "step", "skip", "x"),
        ("flow", "start", "g", "--timeout", "soon"),
    ):
        assert argyll(engine_url, *args).exit_code == 2, args


async def test_connection_refused_exits_3_for_every_operating_command() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    commands = (
        ("flow", "cancel", "x"),
        ("flow", "pause", "x"),
        ("flow", "resume", "x"),
        ("flow", "retry", "x", "--step", "s"),
        ("flow", "explain", "x"),
        ("flow", "step", "complete", "x", "s", "--outputs", "{}"),
        ("flow", "step", "skip", "x", "s"),
        ("flow", "start", "g", "--timeout", "100"),
    )
    processes = [await spawn("--url", url, *args) for args in commands]
    results = await asyncio.gather(*(finish(process) for process in processes))
    for args, (code, out, err) in zip(commands, results, strict=True):
        assert code == 3, (args, err)
        assert out == ""
        assert err.startswith(f"argyll: cannot reach the engine at {url}: ")


def test_every_operating_command_has_help() -> None:
    runner = CliRunner()
    for args in (
        ["flow", "cancel"],
        ["flow", "pause"],
        ["flow", "resume"],
        ["flow", "retry"],
        ["flow", "explain"],
        ["flow", "step"],
        ["flow", "step", "complete"],
        ["flow", "step", "skip"],
    ):
        shown = ok(runner.invoke(cli, [*args, "--help"]))
        assert shown.startswith("Usage: ") and "``" not in shown, args
