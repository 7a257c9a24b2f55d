"""``docs/cli.md`` runs as written: its ``sh`` blocks, in order, against a live engine."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
DOC = ROOT / "docs" / "cli.md"
SH_BLOCK = re.compile(r"^```sh\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def test_every_sh_block_of_the_cli_guide_runs(engine_url: str, tmp_path: Path) -> None:
    blocks = SH_BLOCK.findall(DOC.read_text())
    assert len(blocks) >= 10
    script = "\n".join(
        ["set -euo pipefail", f'argyll() {{ "{sys.executable}" -m argyll "$@"; }}', *blocks]
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ARGYLL_URL": engine_url, "COLUMNS": "120"}
    done = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for line in (
        "step 'greet' registered",
        "step 'shout' is already registered",
        "step 'scratch' unregistered",
        "flow 'hello-ada' was already started with this request",
        "exit code 1",
        "HELLO, ALAN!",
        "step 'shout' updated",
    ):
        assert line in done.stdout.splitlines(), line
    assert "argyll: flow 'no-such-flow' not found (HTTP 404)" in done.stderr
    assert "flow hello-grace completed: 2 of 2 steps ended" in done.stderr
