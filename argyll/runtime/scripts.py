"""Compiling and running step scripts without ever stalling the event loop.

Scripts are pure functions of their inputs, so a run may safely be repeated:
each runs first on the loop with a small budget (most finish in microseconds),
and only one that spends it is run again, with the full budget, on a worker
thread. A runaway script therefore costs the loop one small slice, not seconds.
A Lua script that scans a long string with a pattern (C code no budget can
interrupt) runs in a child process instead, killed after the wall-clock limit.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from argyll.errors import ScriptError, ScriptLimitError
from argyll.model import Language, ScriptConfig, Step
from argyll.runtime.isolated import run_isolated
from argyll.script import ale, jpath, lua
from argyll.script.lua_globals import unknown_globals
from argyll.script.result import is_truthy

INLINE_ALE_STEPS = 20_000
INLINE_LUA_INSTRUCTIONS = 100_000
INLINE_JPATH_MS = 20
"""What a jpath run may spend in regular expressions on the loop (a match takes microseconds)."""
INLINE_PATTERN_SUBJECT = 256
"""Longest string a Lua pattern may scan inline (the matcher's worst case is cubic)."""
WALL_CLOCK_LIMIT = 2.0
"""Seconds a script may run off the loop; only C code the budgets can't see gets near it."""
_SLICE_LIMITS = frozenset({"steps", "instructions", "milliseconds"})


@dataclass(frozen=True, slots=True)
class ScriptLimits:
    """What one run of a script may spend (``argyll serve --ale-steps`` and the Lua flags)."""

    ale_steps: int = ale.DEFAULT_BUDGET
    lua_instructions: int = lua.DEFAULT_INSTRUCTION_LIMIT
    lua_memory: int = lua.DEFAULT_MEMORY_LIMIT
    """Bytes a Lua run may allocate beyond what its sandbox already holds."""

    def full(self, language: Language) -> dict[str, int]:
        """The keyword arguments of a run with the whole budget."""
        if language is Language.ALE:
            return {"budget": self.ale_steps}
        if language is Language.JPATH:
            return {"time_limit": int(WALL_CLOCK_LIMIT * 1000)}
        return {"instruction_limit": self.lua_instructions, "memory_limit": self.lua_memory}


DEFAULT_LIMITS = ScriptLimits()


class Program(Protocol):
    def run(self, bindings: Mapping[str, Any], **limits: int) -> Any: ...


@functools.lru_cache(maxsize=4096)
def compile_script(language: Language, source: str) -> Program:
    """Compile once per (language, source); raises ScriptSyntaxError."""
    if language is Language.ALE:
        return ale.compile_ale(source)
    if language is Language.JPATH:
        return jpath.compile_jpath(source)
    return lua.compile_lua(source)


def check_scripts(step: Step) -> list[tuple[str, str]]:
    """Every compile problem of a step's scripts (matches and mappings too), as (field, reason):
    a script that does not compile, or an Ale script naming something nothing binds, or a
    Lua script reading a global nothing gives it."""
    problems = []
    for where, config in _scripts_of(step):
        try:
            program = compile_script(config.language, config.script)
        except ScriptError as exc:
            problems.append((f"{where}.script", f"does not compile: {exc}"))
            continue
        given = _given_names(step, where)
        if isinstance(program, ale.AleProgram):
            problems.extend(
                (f"{where}.script", f"line {u.line}, column {u.column}: {u.message}")
                for u in program.unbound(given)
            )
        elif config.language is Language.LUA:
            problems.extend(
                (
                    f"{where}.script",
                    f"line {g.line}, column {g.column}: global {g.name!r} is neither an input"
                    " nor a library name",
                )
                for g in unknown_globals(config.script, given)
            )
    return problems


def _given_names(step: Step, where: str) -> set[str]:
    """The names a script of the step may use besides its own and the builtins: a match
    sees the candidate ``value``; the others every runtime input, under its own name and
    its mapped one (a mapping also sees the value it maps, as ``value`` or by name)."""
    if where.endswith(".match"):
        return {"value"}
    names = set(step.runtime_inputs)
    names.update(
        spec.mapping.name
        for name, spec in step.attributes.items()
        if name in names and spec.mapping is not None and spec.mapping.name
    )
    if where.endswith(".mapping.script"):
        names.update((where.split(".")[1], "value"))
    return names


def _scripts_of(step: Step) -> Iterator[tuple[str, ScriptConfig]]:
    """Each script of a step with the field it is in."""
    for where, config in (("script", step.script), ("predicate", step.predicate)):
        if config is not None:
            yield where, config
    for name, spec in step.attributes.items():
        at = f"attributes.{name}.{spec.role.value}"
        if spec.match is not None:
            yield f"{at}.match", spec.match
        if spec.mapping is not None and spec.mapping.script is not None:
            yield f"{at}.mapping.script", spec.mapping.script


def _limits(limits: ScriptLimits, language: Language, inline: bool) -> dict[str, int]:
    """Budgets for a run on the loop (``inline``: the smaller slice) or on a worker thread.

    Lua pattern subjects are capped in both: the thread could not be stopped either.
    """
    full = limits.full(language)
    if language is Language.ALE:
        return {"budget": min(INLINE_ALE_STEPS, full["budget"])} if inline else full
    if language is Language.JPATH:
        return {"time_limit": min(INLINE_JPATH_MS, full["time_limit"])} if inline else full
    if inline:
        full["instruction_limit"] = min(INLINE_LUA_INSTRUCTIONS, full["instruction_limit"])
    return {**full, "pattern_limit": INLINE_PATTERN_SUBJECT}


class ScriptRunner:
    """Runs compiled scripts: inline first, then on a worker thread, or in a child process."""

    def __init__(self, workers: int = 4, limits: ScriptLimits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="argyll-script")

    async def run(self, config: ScriptConfig, bindings: Mapping[str, Any]) -> Any:
        program = compile_script(config.language, config.script)
        try:
            try:
                return program.run(bindings, **_limits(self.limits, config.language, inline=True))
            except ScriptLimitError as exc:
                if exc.limit not in _SLICE_LIMITS:
                    raise
            return await self._on_thread(program, config.language, bindings)
        except ScriptLimitError as exc:
            if exc.limit != "pattern subject":
                raise
        return await run_isolated(
            config, bindings, WALL_CLOCK_LIMIT, self.limits.full(config.language)
        )

    def evaluate(self, config: ScriptConfig, bindings: Mapping[str, Any]) -> Any:
        """A mapping's value: a small script run on the loop with the inline budget (these are
        meant to be small; one that spends it fails instead of moving off). Ale and Lua see
        ``bindings``; a jpath query's document is ``bindings["value"]``, and a query that
        selects nothing gives ``jpath.NOTHING``."""
        program = compile_script(config.language, config.script)
        limits = _limits(self.limits, config.language, inline=True)
        if isinstance(program, jpath.JPathProgram):
            return program.query(bindings.get("value"), **limits)
        return program.run(bindings, **limits)

    def test(self, config: ScriptConfig, bindings: Mapping[str, Any]) -> bool:
        """A match gate's truth, as ``evaluate`` runs it: Ale and Lua by their value's truth,
        jpath by whether the query selects any node of ``bindings["value"]``."""
        program = compile_script(config.language, config.script)
        limits = _limits(self.limits, config.language, inline=True)
        if isinstance(program, jpath.JPathProgram):
            return program.matches(bindings.get("value"), **limits)
        return is_truthy(program.run(bindings, **limits))

    async def _on_thread(
        self, program: Program, language: Language, bindings: Mapping[str, Any]
    ) -> Any:
        limits = _limits(self.limits, language, inline=False)
        full = functools.partial(program.run, bindings, **limits)
        running = asyncio.get_running_loop().run_in_executor(self._pool, full)
        try:
            async with asyncio.timeout(WALL_CLOCK_LIMIT):
                return await running
        except TimeoutError:
            raise ScriptLimitError("seconds", int(WALL_CLOCK_LIMIT)) from None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
