"""A live ``argyll serve`` (memory store, free port) for the CLI tests, started once per module."""

from __future__ import annotations

import os
import re
import selectors
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
READY = re.compile(r"argyll serving on (http://\S+) ")
READY_TIMEOUT = 30.0
SERVE_FLAGS = ("--no-dashboard", "--store", "memory://", "--port", "0")


@pytest.fixture(scope="module")
def engine_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of an ``argyll serve --no-dashboard`` process; stopped (exit 0) afterwards."""
    log = tmp_path_factory.mktemp("serve") / "stderr.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "argyll", "serve", *SERVE_FLAGS],
            stdout=subprocess.PIPE,
            stderr=stderr,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    try:
        yield _ready_url(process, log)
    finally:
        process.terminate()
        assert process.wait(timeout=15) == 0, log.read_text()
        assert process.stdout is not None
        process.stdout.close()


def _ready_url(process: subprocess.Popen[bytes], log: Path) -> str:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout=READY_TIMEOUT):
            process.kill()
            raise TimeoutError(f"argyll serve not ready in {READY_TIMEOUT} s: {log.read_text()}")
    line = process.stdout.readline().decode()
    ready = READY.search(line)
    assert ready, line + log.read_text()
    return ready.group(1)
