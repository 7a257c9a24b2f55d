"""Every fenced code block of README.md and docs/*.md runs as a reader would run it.

Each markdown file is a session of its own: an ``argyll serve`` (memory store, a free
port) is started for it, and its blocks run in order against it.

The blocks of a file run in one scratch directory, so a file one block writes is there
for the next.

- ``bash`` blocks run with ``bash`` under ``set -euo pipefail``.
  ``localhost:8080`` / ``127.0.0.1:8080`` name the file's server; a block that starts
  ``argyll serve`` itself gets free ports instead of every ``:80NN``/``--port 80NN`` it
  names, and what it leaves running is stopped after it. ``ARGYLL_URL`` names the
  file's server, so CLI commands without ``--url`` reach it. Every curl answer must be
  below 400 unless the block states its errors (``<!-- expect-status: 404 -->``). A
  command followed by ``# => text`` must print something that contains ``text``.
- ``python`` blocks are scripts, each one complete and run on its own with ``python``
  (ports as for bash); after ``<!-- notebook -->`` a block is a notebook cell, with
  ``await`` at top level. What its ``# => text`` comments state must be printed, in order.
- ``json`` blocks must parse; a step definition (an object with ``id`` and ``type``)
  is registered with the file's server and must be answered 201 or 200.
- ``yaml`` blocks must parse.
- ``ale`` blocks are examples checked one by one (see ``test_ale_example``).
- ``redis://[user:password@]127.0.0.1:6379/N`` becomes the test Redis under a key prefix
  of the block's own (deleted after), with the same credentials;
  ``redis+cluster://127.0.0.1:7000`` the tests' local cluster.
- ``<!-- skip: reason -->`` before a block: not run; ``<!-- exit: N -->``: a bash block
  ends with status N.

The markers are described in ``markdown_blocks``.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
import yaml
from markdown_blocks import AleExample, Block, ale_examples, blocks
from redis_support import REDIS_URL, answers, free_port, unavailable, with_prefix

from argyll import Engine, ValidationError
from argyll.script.ale.builtins import BUILTINS
from argyll.script.ale.compiler import SPECIAL_FORMS

ROOT = Path(__file__).parents[2]
FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK_TIMEOUT = 90
SERVE_TIMEOUT = 30
WORK = "work"
"""The directory a file's blocks run in: a file one block writes is there for the next."""
READY = re.compile(r"argyll serving on (http://\S+)")
STATUS_TAG = "argyll-docs-http-status"
USER_PORT = "8080"
_HOST_PORT = re.compile(r"(?<=localhost:|127\.0\.0\.1:)(80[0-9]{2})\b")
_ANY_PORT = re.compile(r"(?:(?<=:)|(?<=--port )|(?<=port=))(80[0-9]{2})\b")
_USER = r"(?P<user>[^@/\s'\"]+@)?"
_REDIS = re.compile(rf"redis://{_USER}(?:127\.0\.0\.1|localhost):6379(?:/[0-9]+)?(?P<query>\?)?")
_CLUSTER = re.compile(rf"redis\+cluster://{_USER}(?:127\.0\.0\.1|localhost):7000(?P<query>\?)?")
_CALLED = re.compile(r"\((?:\(|\s)*([^\s()\[\]{}\"';]+)")
_NOTEBOOK_CELL = """\
import ast, asyncio, sys
code = compile(open(sys.argv[1]).read(), sys.argv[1], "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
async def cell():
    result = eval(code, {"__name__": "__main__"})
    if asyncio.iscoroutine(result):
        await result
asyncio.run(cell())
"""
_BASH_PRELUDE = f"""\
set -euo pipefail
curl() {{ command curl -w '%{{stderr}}{STATUS_TAG} %{{http_code}}\\n' "$@"; }}
expect_output() {{
  local out; out=$(cat); printf '%s\\n' "$out"
  grep -qF -f "$1" <<< "$out" || {{ echo "no '$(cat "$1")' in: $out" >&2; return 1; }}
}}
"""
_PRINTS = re.compile(r"# => (.+?)\s*$", re.MULTILINE)
_STATES_OUTPUT = re.compile(r"^(?P<command>\S.*?)\s+# => (?P<text>.+?)\s*$", re.MULTILINE)


def test_every_page_of_the_docs_is_run() -> None:
    pages = {path.name for path in FILES[1:]}
    assert FILES[0] == ROOT / "README.md"
    assert {"README.md", "concepts.md", "steps.md", "ale.md", "events.md"} <= pages
    assert {"rest.md", "python.md", "deployment.md"} <= pages


def _runnable(path: Path) -> list[Block]:
    return [b for b in blocks(path) if not b.skipped and b.language != "ale"]


@pytest.mark.timeout(900)
@pytest.mark.parametrize(
    "path", [p for p in FILES if _runnable(p)], ids=lambda path: str(path.relative_to(ROOT))
)
def test_code_blocks_run(path: Path, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    runnable = _runnable(path)
    env = _environment(tmp_path)
    (tmp_path / WORK).mkdir()
    with ExitStack() as stack:
        server = stack.enter_context(_argyll_serve(env, tmp_path))
        env["ARGYLL_URL"] = server  # the CLI's default engine, as :8080 is the reader's
        for block in runnable:
            redis = stack.enter_context(_redis_for(block, request))
            text = _localized(block.text, server, redis)
            match block.language:
                case "bash":
                    _run_bash(block, text, env, tmp_path)
                case "python":
                    _run_python(block, text, env, tmp_path)
                case "json":
                    _check_json(block, server)
                case "yaml":
                    assert yaml.safe_load(block.text) is not None, block.where


# ----------------------------------------------------------------- Ale examples


def _all_ale_examples() -> list[AleExample]:
    return [
        example
        for path in FILES
        for block in blocks(path)
        if block.language == "ale" and not block.skipped
        for example in ale_examples(block)
    ]


@pytest.mark.parametrize("example", _all_ale_examples(), ids=lambda example: example.where)
async def test_ale_example(example: AleExample) -> None:
    """The example runs as a script step's script, and gives what the page states."""
    definition = {
        "id": "example",
        "type": "script",
        "attributes": {name: {"role": "required"} for name in example.bindings},
        "script": {"language": "ale", "script": example.source},
    }
    async with Engine("memory://") as engine:
        try:
            await engine.register_step(definition)
        except ValidationError as error:
            assert example.error is not None, f"{example.where}: {error}"
            assert example.error in str(error), f"{example.where}: {error}"
            return
        flow_id = await engine.start_flow(["example"], example.bindings)
        await engine.wait_flow(flow_id, timeout=10)
        outcome = {event["type"]: event["data"] for event in await engine.flow_events(flow_id)}
    if example.error is not None:
        assert "work_failed" in outcome, f"{example.where}: no error, {outcome}"
        assert example.error in outcome["work_failed"]["error"], example.where
        return
    assert "work_succeeded" in outcome, f"{example.where}: {outcome.get('work_failed')}"
    expected = (
        example.expected if isinstance(example.expected, dict) else {"result": example.expected}
    )
    assert outcome["work_succeeded"]["outputs"] == expected, example.where


def test_the_ale_reference_has_an_example_of_every_form_and_function() -> None:
    examples = _all_ale_examples()
    called = {name for example in examples for name in _CALLED.findall(example.source)}
    documented = set(BUILTINS) | set(SPECIAL_FORMS)
    assert documented - called == set()


# ----------------------------------------------------------------- the session


def _environment(tmp_path: Path) -> dict[str, str]:
    """Our tree first on the path; ``argyll`` and ``python`` are this interpreter."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, command in (
        ("argyll", f'"{sys.executable}" -m argyll'),
        ("python", f'"{sys.executable}"'),
    ):
        script = bin_dir / name
        script.write_text(f'#!/bin/sh\nexec {command} "$@"\n')
        script.chmod(0o755)
    home = tmp_path / "home"
    home.mkdir()
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("ARGYLL_")},
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "ARGYLL_HOME": str(home),
    }


@contextmanager
def _argyll_serve(env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """``argyll serve`` on a free port with a memory store; yields its URL."""
    log = tmp_path / "serve.log"
    with log.open("w") as err:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "argyll",
                "serve",
                "--port",
                "0",
                "--store",
                "memory://",
                "--no-dashboard",
            ],
            stdout=subprocess.PIPE,
            stderr=err,
            env=env,
            text=True,
        )
    try:
        assert process.stdout is not None
        ready_in_time, _, _ = select.select([process.stdout], [], [], SERVE_TIMEOUT)
        assert ready_in_time, f"no ready line within {SERVE_TIMEOUT} s\n{log.read_text()}"
        line = process.stdout.readline()
        ready = READY.search(line)
        assert ready, line + log.read_text()
        yield ready.group(1)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def _redis_for(block: Block, request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """The Redis URLs (under a prefix of the block's own) the block's text asks for."""
    urls: dict[str, str] = {}
    with ExitStack() as stack:
        if _REDIS.search(block.text):
            if not answers(REDIS_URL):
                unavailable(f"{block.where} needs Redis; none answers at {REDIS_URL}")
            urls["redis"] = stack.enter_context(contextmanager(with_prefix)(REDIS_URL))
        if _CLUSTER.search(block.text):
            urls["cluster"] = str(request.getfixturevalue("redis_cluster_url"))
        yield urls


def _localized(text: str, server: str, redis: dict[str, str]) -> str:
    """The block as it runs here: the test's ports and Redis in place of the reader's."""
    port = server.rsplit(":", 1)[1]
    if "argyll serve" in text:
        ports: dict[str, str] = {}
        text = _ANY_PORT.sub(lambda m: ports.setdefault(m.group(1), str(free_port())), text)
    else:
        ports = {USER_PORT: port}
        text = _HOST_PORT.sub(lambda m: ports.setdefault(m.group(1), str(free_port())), text)
    for pattern, key in ((_REDIS, "redis"), (_CLUSTER, "cluster")):
        if key in redis:
            text = pattern.sub(_with_query(redis[key]), text)
    return text


def _with_query(url: str) -> Callable[[re.Match[str]], str]:
    """A replacement keeping the reader's ``user:password@`` and the query the URL went on
    with (``?x=`` → ``&x=``)."""

    def replace(match: re.Match[str]) -> str:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://{match['user'] or ''}{rest}" + ("&" if match["query"] else "")

    return replace


# ----------------------------------------------------------------- the languages


def _run(command: list[str], env: dict[str, str], files: Path) -> tuple[int, str, str]:
    """Run in the file's work directory, in a session of its own; whatever it leaves
    running is stopped afterwards. Its output is kept in ``files``."""
    out, err = files / "stdout.txt", files / "stderr.txt"
    with out.open("w") as stdout, err.open("w") as stderr:
        process = subprocess.Popen(
            command,
            cwd=files.parent / WORK,
            env=env,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
        try:
            code = process.wait(BLOCK_TIMEOUT)
        except subprocess.TimeoutExpired:
            code = -1
        finally:
            _stop_group(process.pid)
    return code, out.read_text(), err.read_text()


def _stop_group(group: int) -> None:
    for signum in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(group, signum)
        except ProcessLookupError:
            return
        for _ in range(100):
            try:
                os.killpg(group, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)  # a process group cannot be awaited


def _files_of(block: Block, tmp_path: Path) -> Path:
    """A directory for what the runner keeps of one block (its script, output, checks)."""
    directory = tmp_path / f"block-{block.line}"
    directory.mkdir()
    return directory


def _run_bash(block: Block, text: str, env: dict[str, str], tmp_path: Path) -> None:
    files = _files_of(block, tmp_path)
    script = files / "block.sh"
    script.write_text(_BASH_PRELUDE + _checking_outputs(text, files))
    code, out, err = _run(["bash", str(script)], env, files)
    report = (
        f"{block.where} exited {code}\n--- block as run\n{text}--- stdout\n{out}--- stderr\n{err}"
    )
    assert code == int(block.markers.get("exit", "0")), report
    statuses = [int(line.split()[1]) for line in err.splitlines() if line.startswith(STATUS_TAG)]
    errors = [status for status in statuses if status >= 400]
    expected = [int(status) for status in block.markers.get("expect-status", "").split()]
    assert errors == expected, f"HTTP error statuses {errors}, expected {expected}\n{report}"


def _checking_outputs(text: str, files: Path) -> str:
    """Each ``command  # => text`` line piped into a check that its output holds ``text``."""
    count = 0

    def check(match: re.Match[str]) -> str:
        nonlocal count
        count += 1
        expected = files / f"expected-{count}.txt"
        expected.write_text(match.group("text") + "\n")
        return f"{match.group('command')} | expect_output '{expected}'"

    return _STATES_OUTPUT.sub(check, text)


def _run_python(block: Block, text: str, env: dict[str, str], tmp_path: Path) -> None:
    files = _files_of(block, tmp_path)
    script = files / "block.py"
    script.write_text(text)
    if "notebook" in block.markers:
        command = [sys.executable, "-c", _NOTEBOOK_CELL, str(script)]
    else:
        command = [sys.executable, str(script)]
    code, out, err = _run(command, env, files)
    report = f"{block.where} exited {code}\n--- stdout\n{out}--- stderr\n{err}"
    assert code == 0, report
    position = 0
    for stated in _PRINTS.findall(text):
        found = out.find(stated, position)
        assert found >= 0, f"{stated!r} is not printed (in this order)\n{report}"
        position = found + len(stated)


def _check_json(block: Block, server: str) -> None:
    data = json.loads(block.text)
    if isinstance(data, dict) and {"id", "type"} <= data.keys():
        response = httpx.post(f"{server}/engine/step", json=data, timeout=10)
        assert response.status_code in (200, 201), f"{block.where}: {response.text}"
