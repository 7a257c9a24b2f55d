"""Every client command against a live ``argyll serve``: tables, the API's exact JSON, exit codes.

Most commands run in-process through click's ``CliRunner``; the ones that must be
watched while a flow is still running, or whose exit status must come from a real
process, run as ``python -m argyll`` subprocesses.
"""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Any

import httpx
from cli_support import (
    WIDE,
    argyll,
    chain,
    detail,
    ended_flow,
    finish,
    ok,
    printed,
    register,
    spawn,
    unused_port,
)
from click.testing import CliRunner

from argyll import __version__
from argyll.cli import cli
from argyll.testing import Call, StepService, script_step, wait_until

# ---------------------------------------------------------------- --version


def test_version_prints_the_package_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert ok(result) == f"argyll {__version__}\n"


# --------------------------------------------------------------------- step


def test_step_apply_registers_keeps_and_updates(engine_url: str, tmp_path: Path) -> None:
    hello, shout = chain("ap")
    source = tmp_path / "steps.json"
    source.write_text(json.dumps([hello, shout]))
    first = ok(argyll(engine_url, "step", "apply", "-f", str(source))).splitlines()
    again = ok(argyll(engine_url, "step", "apply", "-f", str(source))).splitlines()
    assert len(first) == len(again) == 2 and first != again
    assert all("'ap-hello'" in line for line in (first[0], again[0]))

    changed = dict(shout, script={"language": "ale", "script": '{:aploud "changed"}'})
    source.write_text(json.dumps(changed))
    replies = ok(argyll(engine_url, "-o", "json", "step", "apply", "-f", str(source)))
    assert [json.loads(line)["step"]["id"] for line in replies.splitlines()] == ["ap-shout"]
    stored = httpx.get(f"{engine_url}/engine/step/ap-shout").json()
    assert stored["script"]["script"] == '{:aploud "changed"}'


def test_step_apply_reads_stdin(engine_url: str) -> None:
    hello, _ = chain("in")
    result = CliRunner().invoke(
        cli, ["--url", engine_url, "step", "apply", "-f", "-"], input=json.dumps(hello)
    )
    assert "'in-hello'" in ok(result)
    assert httpx.get(f"{engine_url}/engine/step/in-hello").status_code == 200


def test_step_ls_and_get_print_tables_and_the_apis_json(engine_url: str) -> None:
    register(engine_url, *chain("ls"))
    rows = ok(argyll(engine_url, "step", "ls")).splitlines()
    assert any("ls-hello" in row and "lsname" in row and "lsgreeting" in row for row in rows)
    assert ok(argyll(engine_url, "-o", "json", "step", "ls")) == printed(
        httpx.get(f"{engine_url}/engine/step")
    )

    shown = ok(argyll(engine_url, "step", "get", "ls-shout"))
    assert "lsloud" in shown and "output" in shown and "ale" in shown
    assert ok(argyll(engine_url, "step", "get", "ls-shout", "-o", "json")) == printed(
        httpx.get(f"{engine_url}/engine/step/ls-shout")
    )


def test_step_rm_unregisters_and_a_second_rm_is_a_404(engine_url: str) -> None:
    register(engine_url, *chain("rm"))
    assert "'rm-hello'" in ok(argyll(engine_url, "step", "rm", "rm-hello"))
    reply = json.loads(ok(argyll(engine_url, "-o", "json", "step", "rm", "rm-shout")))
    assert "'rm-shout'" in reply["message"]

    gone = argyll(engine_url, "step", "rm", "rm-hello")
    assert gone.exit_code == 1
    expected = detail(httpx.get(f"{engine_url}/engine/step/rm-hello"))
    assert gone.stderr == f"argyll: {expected} (HTTP 404)\n"
    assert gone.stdout == ""


# --------------------------------------------------------------------- plan


def test_plan_lists_steps_and_required_inputs(engine_url: str, tmp_path: Path) -> None:
    register(engine_url, *chain("pl"))
    table = ok(argyll(engine_url, "plan", "pl-shout"))
    assert any("required" in row and "plname" in row for row in table.splitlines())
    assert "pl-hello" in table

    init = tmp_path / "init.json"
    init.write_text('{"plname": "Ann"}')
    answer = ok(argyll(engine_url, "-o", "json", "plan", "pl-shout", "--init", f"@{init}"))
    request = {"goals": ["pl-shout"], "init": {"plname": "Ann"}}
    assert answer == printed(httpx.post(f"{engine_url}/engine/plan", json=request))
    assert json.loads(answer)["required"] == []


# --------------------------------------------------------------------- flow


def test_flow_start_get_ls_and_events(engine_url: str) -> None:
    register(engine_url, *chain("fl"))
    init = '{"flname": "Ann"}'
    started = ok(argyll(engine_url, "flow", "start", "fl-shout", "--init", init, "--id", "fl-1"))
    assert "'fl-1'" in started
    repeated = argyll(engine_url, "-o", "json", "flow", "start", "fl-shout", "--init", init)
    other = json.loads(ok(repeated))["flow_id"]
    assert other != "fl-1"
    ended_flow(engine_url, "fl-1")

    state = ok(argyll(engine_url, "flow", "get", "fl-1"))
    assert "completed" in state and "Hello, Ann!" in state
    assert ok(argyll(engine_url, "flow", "get", "fl-1", "-o", "json")) == printed(
        httpx.get(f"{engine_url}/engine/flow/fl-1")
    )

    ended_flow(engine_url, other)
    listing = ok(argyll(engine_url, "flow", "ls", "--status", "completed", "--limit", "500"))
    assert any("fl-1" in row and "completed" in row for row in listing.splitlines())
    params = {"status": "completed", "limit": "500"}
    query = ("--status", "completed", "--limit", "500")
    as_json = argyll(engine_url, "flow", "ls", *query, "-o", "json")
    assert ok(as_json) == printed(httpx.get(f"{engine_url}/engine/flow", params=params))

    events = ok(argyll(engine_url, "flow", "events", "fl-1"))
    assert "flow_started" in events and "flow_completed" in events
    assert ok(argyll(engine_url, "flow", "events", "fl-1", "-o", "json")) == printed(
        httpx.get(f"{engine_url}/engine/flow/fl-1/events")
    )


def test_follow_of_an_ended_flow_prints_its_events_and_ends(engine_url: str) -> None:
    register(engine_url, *chain("fe"))
    request = {"id": "fe-1", "goals": ["fe-shout"], "init": {"fename": "Bo"}}
    assert httpx.post(f"{engine_url}/engine/flow", json=request).status_code == 201
    ended_flow(engine_url, "fe-1")
    stored = httpx.get(f"{engine_url}/engine/flow/fe-1/events").json()["events"]

    lines = ok(argyll(engine_url, "flow", "events", "--follow", "fe-1", "-o", "json")).splitlines()
    assert stored[-1]["type"] == "flow_deactivated"
    stored = stored[:-1]  # following ends with the flow: its deactivation comes after
    assert [json.loads(line) for line in lines] == stored

    table = ok(argyll(engine_url, "flow", "events", "--follow", "fe-1")).splitlines()
    assert table[0].split() == ["SEQ", "TIME", "TYPE", "STEP", "DETAIL"]
    assert len(table) == 1 + len(stored) and "flow_completed" in table[-1]


def test_flow_start_wait_ends_with_the_outcome(engine_url: str) -> None:
    register(engine_url, *chain("wt"))
    args = ("flow", "start", "wt-shout", "--init", '{"wtname": "Cy"}', "--wait")
    done = argyll(engine_url, *args, "--id", "wt-1")
    assert "Hello, Cy!" in ok(done)
    assert "flow wt-1 completed: 2 of 2 steps ended" in done.stderr

    as_json = argyll(engine_url, *args, "--id", "wt-2", "-o", "json")
    assert ok(as_json) == printed(httpx.get(f"{engine_url}/engine/flow/wt-2"))


def test_flow_start_wait_exits_4_when_the_flow_fails(engine_url: str) -> None:
    broken = script_step(
        "wf-broken", '(raise "no such service")', requires=["wfx"], outputs=["wfy"]
    )
    register(engine_url, broken)
    args = ("flow", "start", "wf-broken", "--init", '{"wfx": 1}', "--id", "wf-1", "--wait")
    failed = argyll(engine_url, "-o", "json", *args)
    assert failed.exit_code == 4, failed.stderr
    assert json.loads(failed.stdout)["status"] == "failed"
    assert "flow wf-1 failed: 1 of 1 steps ended; " in failed.stderr


# ------------------------------------------------------------------- health


def test_health_shows_the_engine_and_every_step(engine_url: str) -> None:
    register(engine_url, *chain("he"))
    table = ok(argyll(engine_url, "health"))
    assert any("status" in row and "ok" in row for row in table.splitlines())
    assert any("he-hello" in row and "healthy" in row for row in table.splitlines())

    both = json.loads(ok(argyll(engine_url, "health", "-o", "json")))
    assert both["engine"].keys() >= {"service", "version", "status", "store"}
    assert both["engine"]["status"] == "ok"
    assert both["steps"] == httpx.get(f"{engine_url}/engine/health").json()


# ------------------------------------------------------------------- errors


def test_error_replies_exit_1_with_the_servers_detail(engine_url: str) -> None:
    register(engine_url, *chain("er"))
    cases = [
        (("flow", "get", "nope"), httpx.get(f"{engine_url}/engine/flow/nope"), 404),
        (("flow", "events", "--follow", "nope"), httpx.get(f"{engine_url}/engine/flow/nope"), 404),
        (
            ("flow", "start", "er-shout"),
            httpx.post(f"{engine_url}/engine/flow", json={"goals": ["er-shout"]}),
            400,
        ),
        (
            ("plan", "nope"),
            httpx.post(f"{engine_url}/engine/plan", json={"goals": ["nope"]}),
            400,
        ),
        (
            ("flow", "ls", "--status", "bogus"),
            httpx.get(f"{engine_url}/engine/flow", params={"status": "bogus"}),
            400,
        ),
    ]
    for args, reply, status in cases:
        for output in ("table", "json"):
            result = argyll(engine_url, "-o", output, *args)
            assert result.exit_code == 1, (args, result.stderr)
            assert result.stderr == f"argyll: {detail(reply)} (HTTP {status})\n"
            assert result.stdout == ""


def test_usage_errors_exit_2(engine_url: str, tmp_path: Path) -> None:
    for args in (
        ("plan",),
        ("plan", "x", "--init", "[1]"),
        ("plan", "x", "--init", "{nope"),
        ("plan", "x", "--init", f"@{tmp_path / 'missing.json'}"),
        ("step", "apply", "-f", str(tmp_path / "missing.json")),
        ("-o", "yaml", "step", "ls"),
        ("flow", "ls", "--limit", "many"),
        ("no-such-command",),
    ):
        assert argyll(engine_url, *args).exit_code == 2, args


def test_a_file_that_is_not_a_step_list_is_a_usage_error(engine_url: str, tmp_path: Path) -> None:
    source = tmp_path / "steps.json"
    for text in ("not json", "[1, 2]", "[]", '"hello"'):
        source.write_text(text)
        result = argyll(engine_url, "step", "apply", "-f", str(source))
        assert result.exit_code == 2, text
        assert str(source) in result.stderr


async def test_connection_refused_exits_3_in_a_real_process() -> None:
    url = f"http://127.0.0.1:{unused_port()}"
    for args in (("step", "ls"), ("flow", "events", "--follow", "x"), ("health", "-o", "json")):
        code, out, err = await finish(await spawn("--url", url, *args))
        assert code == 3, err
        assert out == ""
        assert err.startswith(f"argyll: cannot reach the engine at {url}: ")
        assert len(err.splitlines()) == 1


# ----------------------------------------------------------- shared options


def test_shared_options_go_before_or_after_the_command(engine_url: str) -> None:
    expected = printed(httpx.get(f"{engine_url}/engine/step"))
    runner = CliRunner()
    after = runner.invoke(cli, ["step", "ls", "--url", engine_url, "-o", "json"], env=WIDE)
    between = runner.invoke(cli, ["step", "-o", "json", "ls", "--url", engine_url], env=WIDE)
    from_env = runner.invoke(cli, ["-o", "json", "step", "ls"], env={"ARGYLL_URL": engine_url})
    nearest = argyll("http://127.0.0.1:1", "step", "ls", "--url", engine_url, "--output", "json")
    assert ok(after) == ok(between) == ok(from_env) == ok(nearest) == expected


class FakeEngine:
    """A stand-in engine that records requests and answers /health as told."""

    def __init__(self, status: str = "ok") -> None:
        self.status = status

    def __call__(self, call: Call) -> tuple[int, Any]:
        if call.path == "/health":
            return 200, {"service": "argyll", "version": "x", "status": self.status, "store": "m"}
        if call.path == "/engine/health":
            return 200, {"health": {}, "count": 0}
        return 200, {"steps": [], "count": 0}


async def test_token_is_sent_as_a_bearer_token() -> None:
    async with StepService(FakeEngine()) as fake:
        for args, env in (
            (("--token", "s3cret", "step", "ls"), {}),
            (("step", "ls"), {"ARGYLL_TOKEN": "from-env"}),
            (("step", "ls"), {}),
        ):
            code, _, err = await finish(await spawn("--url", fake.url, *args, env=env))
            assert code == 0, err
    sent = [call.headers.get("Authorization") for call in fake.calls]
    assert sent == ["Bearer s3cret", "Bearer from-env", None]


async def test_health_exits_4_when_the_engine_is_not_ok() -> None:
    async with StepService(FakeEngine(status="unhealthy")) as fake:
        code, out, err = await finish(await spawn("--url", fake.url, "health"))
    assert code == 4, err
    assert "unhealthy" in out


# ------------------------------------------------------------- live flows


def approval_step(prefix: str, endpoint: str) -> dict[str, Any]:
    """An async step: the service acknowledges, the test posts the result to the webhook."""
    return {
        "id": f"{prefix}-approve",
        "type": "async",
        "attributes": {f"{prefix}in": {"role": "required"}, f"{prefix}ok": {"role": "output"}},
        "http": {"endpoint": endpoint, "timeout": 5000},
    }


async def start_waiting_flow(url: str, prefix: str, service: StepService) -> str:
    async with httpx.AsyncClient(base_url=url) as client:
        reply = await client.post("/engine/step", json=approval_step(prefix, service.url))
        assert reply.status_code == 201, reply.text
        request = {"id": f"{prefix}-1", "goals": [f"{prefix}-approve"], "init": {f"{prefix}in": 1}}
        assert (await client.post("/engine/flow", json=request)).status_code == 201
    return f"{prefix}-1"


async def complete(service: StepService, prefix: str) -> None:
    """Wait (bounded) for the step to be called, then post its result to its webhook."""
    await wait_until(lambda: service.calls, "the step service to be called")
    webhook = service.calls[0].headers["Argyll-Webhook-Url"]
    async with httpx.AsyncClient() as client:
        assert (await client.post(webhook, json={f"{prefix}ok": True})).status_code == 200


async def test_follow_streams_a_live_flow_and_ends_when_it_ends(engine_url: str) -> None:
    async with StepService(lambda call: (202, {"accepted": True})) as service:
        flow_id = await start_waiting_flow(engine_url, "lf", service)
        follow = ("flow", "events", flow_id, "--follow", "-o", "json")
        process = await spawn("--url", engine_url, *follow)
        assert process.stdout is not None
        async with asyncio.timeout(20):
            first = json.loads(await process.stdout.readline())
        assert first["type"] == "flow_started"
        assert process.returncode is None
        await complete(service, "lf")
        code, out, err = await finish(process)
    assert code == 0, err
    events = [first, *(json.loads(line) for line in out.splitlines())]
    assert [event["seq"] for event in events] == list(range(1, len(events) + 1))
    assert events[-1]["type"] == "flow_completed"


async def test_a_follow_cut_off_by_the_server_stopping_exits_3() -> None:
    server = await spawn("serve", "--no-dashboard", "--store", "memory://", "--port", "0")
    assert server.stdout is not None
    async with asyncio.timeout(30):
        ready = (await server.stdout.readline()).decode()
    url = ready.split()[3]
    async with StepService(lambda call: (202, {"accepted": True})) as service:
        flow_id = await start_waiting_flow(url, "sd", service)
        process = await spawn("--url", url, "flow", "events", flow_id, "--follow", "-o", "json")
        assert process.stdout is not None
        async with asyncio.timeout(20):
            assert json.loads(await process.stdout.readline())["type"] == "flow_started"
        server.send_signal(signal.SIGTERM)
        code, _, err = await finish(process)
        assert (await finish(server))[0] == 0
    assert code == 3
    assert err.startswith(f"argyll: the event stream of flow '{flow_id}' closed before")


async def test_ctrl_c_ends_a_follow_with_exit_130(engine_url: str) -> None:
    async with StepService(lambda call: (202, {"accepted": True})) as service:
        flow_id = await start_waiting_flow(engine_url, "ci", service)
        process = await spawn("--url", engine_url, "flow", "events", flow_id, "--follow")
        assert process.stdout is not None
        async with asyncio.timeout(20):
            header = await process.stdout.readline()
            first = await process.stdout.readline()
        assert b"SEQ" in header and b"flow_started" in first
        process.send_signal(signal.SIGINT)
        code, _, err = await finish(process)
    assert code == 130
    assert err == "argyll: interrupted\n"


async def test_wait_shows_progress_until_a_live_flow_ends(engine_url: str) -> None:
    async with StepService(lambda call: (202, {"accepted": True})) as service:
        async with httpx.AsyncClient(base_url=engine_url) as client:
            reply = await client.post("/engine/step", json=approval_step("lw", service.url))
            assert reply.status_code == 201, reply.text
        process = await spawn(
            *("--url", engine_url, "flow", "start", "lw-approve"),
            *("--init", '{"lwin": 1}', "--id", "lw-1", "--wait", "-o", "json"),
        )
        await complete(service, "lw")
        code, out, err = await finish(process)
    assert code == 0, err
    assert json.loads(out)["attributes"]["lwok"] == {"value": True, "step": "lw-approve"}
    assert err.strip().endswith("flow lw-1 completed: 1 of 1 steps ended")


def test_every_command_has_help() -> None:
    runner = CliRunner()
    for args in (
        [],
        ["step"],
        ["step", "ls"],
        ["step", "get"],
        ["step", "apply"],
        ["step", "rm"],
        ["plan"],
        ["flow"],
        ["flow", "start"],
        ["flow", "ls"],
        ["flow", "get"],
        ["flow", "events"],
        ["health"],
        ["serve"],
    ):
        shown = ok(runner.invoke(cli, [*args, "--help"]))
        assert shown.startswith("Usage: ") and "``" not in shown, args


def test_flows_started_with_labels_are_listed_by_them(engine_url: str) -> None:
    register(engine_url, *chain("lb"))
    init = '{"lbname": "Di"}'
    start = ("flow", "start", "lb-shout", "--init", init)
    ok(argyll(engine_url, *start, "--id", "lb-1", "--label", "team=ops", "--label", "env=prod"))
    ok(argyll(engine_url, *start, "--id", "lb-2", "--label", "team=web"))
    ended_flow(engine_url, "lb-1")

    listed = ok(argyll(engine_url, "flow", "ls", "--label", "team=ops"))
    assert "lb-1" in listed and "team=ops, env=prod" in listed and "lb-2" not in listed
    as_json = ok(argyll(engine_url, "-o", "json", "flow", "ls", "--label", "env=prod"))
    assert as_json == printed(httpx.get(f"{engine_url}/engine/flow", params={"label": "env=prod"}))
    assert "team=ops" in ok(argyll(engine_url, "flow", "get", "lb-1"))

    wrong = argyll(engine_url, "flow", "ls", "--label", "team")
    assert wrong.exit_code == 2 and "must be NAME=VALUE" in wrong.stderr
