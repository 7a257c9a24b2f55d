"""The pure core loads no I/O, no event loop and no third-party library but its schema
validator and its JSON encoder.

Checked in a fresh interpreter, so what other tests imported cannot hide an import;
the validator and the encoder are imported first, so only what the core itself loads is
counted.
"""

from __future__ import annotations

import json
import subprocess
import sys

CORE = (
    "argyll.model",
    "argyll.events",
    "argyll.codec",
    "argyll.apply",
    "argyll.transitions",
    "argyll.planner",
    "argyll.catalog",
    "argyll.decide",
    "argyll.outcomes",
    "argyll.mapping",
    "argyll.operate",
    "argyll.subflow",
    "argyll.compensate",
    "argyll.explain",
    "argyll.memo",
    "argyll.flow_index",
    "argyll.starts",
    "argyll.retention",
    "argyll.errors",
    "argyll.problems",
    "argyll.wire",
    "argyll.json_encoding",
    "argyll.outbound",
    "argyll.redaction",
    "argyll.access",
    "argyll.script.ale",
    "argyll.script.result",
)
SHELL_ONLY = {"asyncio", "socket", "sqlite3", "ssl", "selectors", "threading", "subprocess"}
ALLOWED_THIRD_PARTY = {"argyll", "jsonschema_rs", "orjson"}

_PROBE = """
import json, sys
import jsonschema_rs  # what the validator itself loads (email.utils pulls in socket) is its own
import orjson  # and the encoder's (platform, uuid, zoneinfo)
before = {name.split('.')[0] for name in sys.modules}
for module in sys.argv[1:]:
    __import__(module)
loaded = {name.split('.')[0] for name in sys.modules} - before
print(json.dumps(sorted(loaded)))
"""


def test_the_core_loads_nothing_of_the_shell() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *CORE],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    loaded = set(json.loads(done.stdout))
    assert loaded & SHELL_ONLY == set()
    assert {name for name in loaded if name not in sys.stdlib_module_names} <= ALLOWED_THIRD_PARTY
