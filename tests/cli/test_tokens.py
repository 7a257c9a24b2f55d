"""Tokens end to end: minted by ``argyll token new``, served by ``argyll serve --tokens``, used
by the CLI (``--token`` / ``ARGYLL_TOKEN``) and the Python clients; the safe default."""

from __future__ import annotations

import asyncio
import os
import re
import selectors
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from argyll.access import parse_tokens, token_sha256
from argyll.cli import cli
from argyll.client import AsyncClient, Client
from argyll.errors import ForbiddenError, UnauthorizedError
from argyll.testing import script_step, wait_until_sync

ROOT = Path(__file__).parents[2]
READY = re.compile(r"argyll serving on http://\S+:(\d+) ")
HELLO = script_step(
    "hello", '{:greeting (str "Hello, " name)}', requires=["name"], outputs=["greeting"]
)


def mint(name: str, scopes: str) -> tuple[str, str]:
    """A token from ``argyll token new``: its text and the TOML entry it printed."""
    result = CliRunner().invoke(cli, ["token", "new", name, "--scopes", scopes])
    assert result.exit_code == 0, result.output
    first, _, rest = result.output.partition("\n")
    secret = first.removeprefix("token: ")
    return secret, rest.split("\n", 1)[1]


def spawn(*flags: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "argyll", "serve", "--no-dashboard", "--store", "memory://", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )


def ready_port(process: subprocess.Popen[bytes]) -> str:
    assert process.stdout is not None and process.stderr is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout=30):
            process.kill()
            raise TimeoutError("argyll serve not ready in 30 s")
    line = process.stdout.readline().decode()
    ready = READY.search(line)
    assert ready, line + process.stderr.read1().decode()
    return ready.group(1)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    assert process.wait(timeout=15) == 0
    for pipe in (process.stdout, process.stderr):
        assert pipe is not None
        pipe.close()


SECRETS: dict[str, str] = {}


@pytest.fixture(scope="module")
def tokens_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    entries = []
    for name, scopes in (("boss", "admin"), ("reader", "read")):
        SECRETS[name], entry = mint(name, scopes)
        entries.append(entry)
    path = tmp_path_factory.mktemp("tokens") / "tokens.toml"
    path.write_text("\n".join(entries))
    return path


@pytest.fixture(scope="module")
def url(tokens_file: Path) -> Iterator[str]:
    """An ``argyll serve`` on every address (0.0.0.0), which it accepts with tokens only."""
    process = spawn("--host", "0.0.0.0", "--port", "0", "--tokens", str(tokens_file))
    try:
        yield f"http://127.0.0.1:{ready_port(process)}"
    finally:
        stop(process)


def test_token_new_prints_a_token_once_and_an_entry_of_its_hash_only() -> None:
    secret, entry = mint("ci", "run,read")
    assert len(secret) >= 43 and re.fullmatch(r"[A-Za-z0-9_-]+", secret)
    (token,) = parse_tokens(entry, "toml").entries
    assert (token.name, token.token_sha256) == ("ci", token_sha256(secret))
    assert {scope.value for scope in token.scopes} == {"read", "run"}
    assert secret not in entry
    assert mint("ci", "run")[0] != secret


def test_token_new_refuses_an_unknown_scope() -> None:
    result = CliRunner().invoke(cli, ["token", "new", "ci", "--scopes", "root"])
    assert result.exit_code == 2 and 'unknown scope "root"' in result.output


def test_serve_refuses_a_network_address_without_tokens() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "argyll", "serve", "--host", "0.0.0.0", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 1 and done.stdout == ""
    message = done.stderr
    assert "refusing to serve on 0.0.0.0 without tokens" in message
    assert "--tokens FILE" in message and "--allow-anonymous" in message


def test_serve_allows_anonymous_when_told_and_refuses_a_bad_tokens_file(tmp_path: Path) -> None:
    process = spawn("--host", "0.0.0.0", "--port", "0", "--allow-anonymous")
    try:
        ready_port(process)
    finally:
        stop(process)
    bad = tmp_path / "tokens.toml"
    bad.write_text('[[tokens]]\nname = "x"\n')
    done = subprocess.run(
        [sys.executable, "-m", "argyll", "serve", "--port", "0", "--tokens", str(bad)],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 1
    assert "cannot use the tokens file" in done.stderr and "token_sha256" in done.stderr


def test_serve_reads_the_tokens_file_from_the_environment(tokens_file: Path) -> None:
    process = spawn(
        "--host", "0.0.0.0", "--port", "0", env={"ARGYLL_TOKENS_FILE": str(tokens_file)}
    )
    try:
        url = f"http://127.0.0.1:{ready_port(process)}"
        with Client(url) as anonymous, pytest.raises(UnauthorizedError):
            anonymous.list_steps()
        with Client(url, token=SECRETS["reader"]) as reader:
            assert reader.health().service == "argyll"
    finally:
        stop(process)


def argyll(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env={"ARGYLL_TOKEN": None, **(env or {})})
    return result.exit_code, result.output


def test_the_cli_sends_its_token_before_or_after_the_command(url: str) -> None:
    code, output = argyll("--url", url, "flow", "ls")
    assert (code, output.strip()) == (1, "argyll: this call needs a valid token (HTTP 401)")
    assert argyll("--url", url, "--token", SECRETS["reader"], "flow", "ls")[0] == 0
    assert argyll("flow", "ls", "--url", url, "--token", SECRETS["reader"])[0] == 0
    assert argyll("--url", url, "flow", "ls", env={"ARGYLL_TOKEN": SECRETS["reader"]})[0] == 0
    code, output = argyll("--url", url, "--token", SECRETS["reader"], "step", "rm", "nothing")
    assert code == 1 and "'admin' scope (HTTP 403)" in output


def test_the_python_clients_send_their_token(url: str) -> None:
    with Client(url) as anonymous, pytest.raises(UnauthorizedError):
        anonymous.list_steps()
    with Client(url, token=SECRETS["reader"]) as reader, pytest.raises(ForbiddenError) as refused:
        reader.register_step(HELLO)
    assert refused.value.scope == "admin"
    with Client(url, token=SECRETS["boss"]) as boss:
        boss.register_step(HELLO)
        assert Client(url, token=SECRETS["reader"]).get_step("hello").id == "hello"

    async def follow() -> list[dict[str, object]]:
        async with AsyncClient(url, token=SECRETS["boss"]) as client:
            flow_id = await client.start_flow(["hello"], {"name": "Ada"})
            return [event async for event in client.stream(flow_id)]

    events = asyncio.run(follow())
    assert events[0]["type"] == "flow_started" and events[-1]["type"] == "flow_completed"
    assert events[0]["data"]["actor"] == "boss"  # type: ignore[index]

    async def refused_stream() -> None:
        async with AsyncClient(url) as client:
            await client.stream().connect()

    with pytest.raises(UnauthorizedError):
        asyncio.run(refused_stream())


def test_sighup_reads_the_tokens_file_again(tmp_path: Path) -> None:
    first, entry = mint("first", "read")
    second, other = mint("other", "read")
    path = tmp_path / "tokens.toml"
    path.write_text(entry)
    process = spawn("--port", "0", "--tokens", str(path))
    try:
        url = f"http://127.0.0.1:{ready_port(process)}"
        before = path.stat()
        path.write_text(other.replace('"other"', '"first"'))
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        assert path.stat().st_size == before.st_size
        with Client(url, token=first) as client:
            assert client.list_steps() == []
        process.send_signal(signal.SIGHUP)
        with Client(url, token=second) as client:
            wait_until_sync(lambda: _accepted(client), "the new token to be accepted")
        with Client(url, token=first) as client, pytest.raises(UnauthorizedError):
            client.list_steps()
    finally:
        stop(process)


def _accepted(client: Client) -> bool:
    try:
        client.list_steps()
    except UnauthorizedError:
        return False
    return True
