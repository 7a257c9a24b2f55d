"""Running one script in a child process, killed if it outlives its wall-clock limit.

For the one kind of work no budget can interrupt: Lua's pattern matcher, C code
that can backtrack for minutes. A thread can't be stopped; a process can. The
child is ``python -m argyll.runtime.isolated``: one JSON request on stdin, one
JSON reply on stdout.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Mapping
from typing import Any

from argyll.errors import ScriptError, ScriptLimitError
from argyll.model import Language, ScriptConfig
from argyll.script import ale, lua


async def run_isolated(
    config: ScriptConfig,
    bindings: Mapping[str, Any],
    seconds: float,
    limits: Mapping[str, int] | None = None,
) -> Any:
    """The script's value; ScriptLimitError("seconds") when the child had to be killed.

    ``limits``: the keyword arguments of the program's ``run`` (its own defaults if None).
    """
    request = json.dumps(
        {
            "language": config.language.value,
            "source": config.script,
            "bindings": bindings,
            "limits": dict(limits or {}),
        }
    )
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "argyll.runtime.isolated",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with asyncio.timeout(seconds):
            out, _ = await child.communicate(request.encode())
    except TimeoutError:
        raise ScriptLimitError("seconds", int(seconds)) from None
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
    return _answer(out)


def _answer(out: bytes) -> Any:
    try:
        reply = json.loads(out)
    except ValueError:
        raise ScriptError("the script's process ended without an answer") from None
    if "value" in reply:
        return reply["value"]
    if reply.get("limit"):
        raise ScriptLimitError(reply["limit"], reply["amount"])
    raise ScriptError(reply["error"])


def _serve(request: Mapping[str, Any]) -> dict[str, Any]:
    language, source = Language(request["language"]), request["source"]
    program = ale.compile_ale(source) if language is Language.ALE else lua.compile_lua(source)
    try:
        return {"value": program.run(request["bindings"], **request.get("limits", {}))}
    except ScriptLimitError as error:
        return {"limit": error.limit, "amount": error.value}
    except ScriptError as error:
        return {"error": str(error)}


if __name__ == "__main__":
    sys.stdout.write(json.dumps(_serve(json.loads(sys.stdin.read()))))
