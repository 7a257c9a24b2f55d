"""Lua step scripts and predicates, run sandboxed through lupa (Lua 5.4).

Each thread owns one ``LuaRuntime`` (they are not thread-safe) holding a trusted
prelude and a cache of compiled chunks, so a script compiles once per thread.
Every run gets a fresh global environment: the inputs, the safe base functions
and private copies of the ``string``, ``table``, ``math`` and ``utf8`` libraries,
so nothing a script sets is seen by a later run. Nothing else of the runtime, and
no Python object (inputs are converted to Lua tables), is reachable from a script.

Left out of the sandbox: io, os, debug, package, require, load, loadstring,
dofile, loadfile, collectgarbage, print, string.dump, coroutine (a coroutine
keeps its own copy of the instruction hook) and xpcall (its message handler
would run with hooks off, out of reach of the instruction limit). ``pcall`` is
wrapped so a script cannot swallow the instruction-limit error, and
``setmetatable`` refuses ``__gc``, since finalizers also run with hooks off.

The instruction hook cannot interrupt C code, and Lua's pattern matcher
(string.find/match/gmatch/gsub) backtracks without bound: ``".-.-b"`` over a few
thousand characters runs for seconds. So a run may cap pattern subjects
(``pattern_limit``); the engine runs a script that needs more in a child process
it kills after a wall-clock limit (see ``argyll.runtime.scripts``).

Results come back as plain Python data: a table whose keys are exactly 1..n is a
list, any other table (including the empty one) a dict with string keys.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from lupa import lua54

from argyll.errors import ScriptError, ScriptLimitError, ScriptSyntaxError

DEFAULT_INSTRUCTION_LIMIT = 10_000_000
DEFAULT_MEMORY_LIMIT = 32 * 1024 * 1024

_CACHE_SIZE = 512
_MAX_DEPTH = 100  # of nested tables in a result
_MAX_HOOK_COUNT = 2**31 - 1  # lua_sethook takes a C int
_SCALARS = frozenset({bool, int, float, str, bytes})
_MEMORY_MESSAGES = ("not enough memory", "resulting string too large", "string length overflow")
_DEPTH_LIMITS = {"C stack overflow": 200, "stack overflow": 1_000_000}
"""Lua's own limits on nested C calls (LUAI_MAXCCALLS) and stack slots (LUAI_MAXSTACK)."""
_SCRIPT_AT = re.compile(r"script:(\d+): ")
_PRELUDE_AT = re.compile(r"sandbox:\d+: ")

_PRELUDE = r"""
local getinfo, sethook, setupvalue = debug.getinfo, debug.sethook, debug.setupvalue
local error, load, next, pcall, rawget, rawset = error, load, next, pcall, rawget, rawset
local setmetatable, tostring, type = setmetatable, tostring, type
local MAX_DEPTH = ...

local function copy(source)
  local result = {}
  for key, value in next, source do result[key] = value end
  return result
end

-- Methods on strings ("x"):upper() use a private string table; scripts cannot
-- reach it (getmetatable("") gives false), so they cannot change it for others.
local safe_string = copy(string)
safe_string.dump = nil
local string_meta = getmetatable("")
string_meta.__index = safe_string
string_meta.__metatable = false
python = nil

local run  -- defined last; the count hook spares it
local exhausted = false
local pattern_refused = false
local LIMIT_MESSAGE = "instruction limit exceeded"
local pattern_limit = math.huge

-- Once the budget is spent the hook fires on every instruction, so neither a
-- pcall nor a __close handler can buy the script more time; only the trusted
-- runner may go on, to switch the hook off.
local function on_count()
  if getinfo(2, "f").func == run then return end
  if not exhausted then
    exhausted = true
    sethook(on_count, "", 1)
  end
  error(LIMIT_MESSAGE, 0)
end

-- The pattern matcher is C code the count hook cannot interrupt, and it can
-- backtrack for seconds; a run with a pattern limit (the engine's inline run)
-- treats a longer subject as its budget spent, so it is run again elsewhere.
for _, name in ipairs({"find", "match", "gmatch", "gsub"}) do
  local original = safe_string[name]
  safe_string[name] = function(subject, ...)
    if type(subject) == "string" and #subject > pattern_limit then
      exhausted = true
      pattern_refused = true
      sethook(on_count, "", 1)
      error(LIMIT_MESSAGE, 0)
    end
    return original(subject, ...)
  end
end

local function pass_unless_exhausted(...)
  if exhausted then error(LIMIT_MESSAGE, 0) end
  return ...
end

local base = {
  assert = assert, error = error, ipairs = ipairs, pairs = pairs, next = next,
  select = select, tonumber = tonumber, tostring = tostring, type = type,
  unpack = table.unpack, rawequal = rawequal, rawget = rawget, rawlen = rawlen,
  rawset = rawset, getmetatable = getmetatable, _VERSION = _VERSION,
  pcall = function(...) return pass_unless_exhausted(pcall(...)) end,
  setmetatable = function(target, meta)
    if type(meta) == "table" and rawget(meta, "__gc") ~= nil then
      error("__gc metamethods are not allowed", 2)
    end
    return setmetatable(target, meta)
  end,
}
local libraries = {string = safe_string, table = table, math = math, utf8 = utf8}

-- A run's globals are its inputs; everything else is filled in on first use,
-- libraries as private copies (most scripts touch none, and copying all four
-- would be most of the cost of a small run). The metatable is shared but
-- protected, so scripts can neither read nor replace it.
local env_meta = {__metatable = false}
function env_meta.__index(env, name)
  local value = base[name]
  local library = libraries[name]
  if library ~= nil then
    value = copy(library)
  elseif name == "_G" then
    value = env
  end
  if value ~= nil then rawset(env, name, value) end
  return value
end

-- Results must be plain data; the walk runs under the instruction budget, so a
-- huge (or exponentially shared) result is stopped like any other runaway.
local function check(value, ancestors, depth)
  local kind = type(value)
  if kind == "table" then
    if ancestors[value] then error("script returned a table that contains itself", 0) end
    if depth > MAX_DEPTH then
      error("script returned tables nested deeper than " .. MAX_DEPTH .. " levels", 0)
    end
    ancestors[value] = true
    for key, item in next, value do
      local key_kind = type(key)
      if key_kind ~= "string" and key_kind ~= "number" then
        error("script returned a table with a " .. key_kind .. " key", 0)
      end
      check(item, ancestors, depth + 1)
    end
    ancestors[value] = nil
  elseif kind ~= "nil" and kind ~= "boolean" and kind ~= "number" and kind ~= "string" then
    error("script returned a " .. kind .. " value", 0)
  end
  return value
end

local function describe(err)
  local kind = type(err)
  if kind == "string" or kind == "number" then return tostring(err) end
  return "error object is a " .. kind .. " value"
end

local placeholder = {}

local function compile(source)
  local chunk, message = load(source, "=script", "t", placeholder)
  return chunk, message
end

-- Returns "ok", result | "error", message | "instructions" | "patterns".
function run(chunk, env, limit, subject_limit)
  exhausted = false
  pattern_refused = false
  pattern_limit = subject_limit or math.huge
  setupvalue(chunk, 1, setmetatable(env, env_meta))
  sethook(on_count, "", limit)
  local ok, result = pcall(chunk)
  if ok then ok, result = pcall(check, result, {}, 1) end
  sethook()
  setupvalue(chunk, 1, placeholder)
  if pattern_refused then return "patterns", nil end
  if exhausted then return "instructions", nil end
  if ok then return "ok", result end
  return "error", describe(result)
end

return compile, run
"""


def _deny_attribute(obj: object, name: object, is_setting: bool) -> NoReturn:
    """Defence in depth: no Python object is ever handed to Lua, but if one were..."""
    raise AttributeError(f"access to {name!r} is not allowed")


class _Sandbox:
    """One thread's runtime: the trusted prelude and its compiled chunks by source."""

    def __init__(self) -> None:
        self.lua = lua54.LuaRuntime(
            max_memory=0,
            register_eval=False,
            register_builtins=False,
            unpack_returned_tuples=False,
            overflow_handler=float,
            attribute_filter=_deny_attribute,
        )
        self._compile, self._run = self.lua.execute(_PRELUDE, _MAX_DEPTH, name="=sandbox")
        self._chunks: OrderedDict[str, Any] = OrderedDict()

    def limit_memory(self, limit: int) -> None:
        """Let what follows allocate ``limit`` bytes beyond what is in use now."""
        self.lua.set_max_memory(self.lua.get_memory_used() + limit)

    def chunk(self, source: str) -> Any:
        """The compiled chunk for ``source``; raises ScriptSyntaxError."""
        chunk = self._chunks.get(source)
        if chunk is not None:
            self._chunks.move_to_end(source)
            return chunk
        chunk, message = self._compile(source)
        if chunk is None:
            raise _compile_error(message)
        self._chunks[source] = chunk
        if len(self._chunks) > _CACHE_SIZE:
            self._chunks.popitem(last=False)
        return chunk

    def run(
        self,
        source: str,
        bindings: Mapping[str, Any],
        instruction_limit: int,
        memory_limit: int,
        pattern_limit: int | None,
    ) -> Any:
        self.limit_memory(memory_limit)
        chunk = self.chunk(source)
        env = _to_lua(self.lua, bindings)
        count = min(max(instruction_limit, 1), _MAX_HOOK_COUNT)
        status, payload = self._run(chunk, env, count, pattern_limit)
        if status == "ok":
            return _from_lua(payload)
        if status == "instructions":
            raise ScriptLimitError("instructions", instruction_limit)
        if status == "patterns":
            raise ScriptLimitError("pattern subject", pattern_limit or 0)
        error = _runtime_error(payload, memory_limit)
        if isinstance(error, ScriptLimitError) and error.limit == "memory":
            self.lua.gccollect()  # hand the garbage back now, not at this thread's next run
        raise error


class _ThreadSandbox(threading.local):
    sandbox: _Sandbox | None = None


_local = _ThreadSandbox()


def _sandbox() -> _Sandbox:
    if _local.sandbox is None:
        _local.sandbox = _Sandbox()
    return _local.sandbox


def _compile_error(message: str) -> ScriptError:
    if message in _MEMORY_MESSAGES:
        return ScriptLimitError("memory", DEFAULT_MEMORY_LIMIT)
    match = _SCRIPT_AT.match(message)
    line = int(match.group(1)) if match else 1
    return ScriptSyntaxError(_SCRIPT_AT.sub("", message, count=1), line)


def _clean(message: str) -> str:
    """``script:3: boom`` -> ``line 3: boom``, the form ScriptSyntaxError uses.

    Errors raised by the prelude's wrappers lose the prelude's position, which
    would only confuse the script's author.
    """
    message = _PRELUDE_AT.sub("", message)
    return _SCRIPT_AT.sub(lambda match: f"line {match.group(1)}: ", message)


def _runtime_error(message: str, memory_limit: int) -> ScriptError:
    if message.endswith(_MEMORY_MESSAGES):
        return ScriptLimitError("memory", memory_limit)
    for overflow, depth in _DEPTH_LIMITS.items():
        if message.endswith(overflow):
            return ScriptLimitError("depth", depth)
    return ScriptError(_clean(message))


def _to_lua(lua: Any, value: Any) -> Any:
    """Python data -> Lua values; containers become fresh Lua tables."""
    if type(value) in _SCALARS or value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Mapping):
        return lua.table_from({str(key): _to_lua(lua, item) for key, item in value.items()})
    if isinstance(value, list | tuple):
        return lua.table_from([_to_lua(lua, item) for item in value])
    raise ScriptError(f"cannot pass a {type(value).__name__} value to a Lua script")


def _from_lua(value: Any) -> Any:
    """Lua values -> Python data; the prelude already refused anything but plain data."""
    if lua54.lua_type(value) != "table":
        return value
    items = {key: _from_lua(item) for key, item in value.items()}
    count = len(items)
    if count and all(type(key) is int and 1 <= key <= count for key in items):
        return [items[index] for index in range(1, count + 1)]
    return {key if type(key) is str else str(key): item for key, item in items.items()}


@dataclass(frozen=True, slots=True)
class LuaProgram:
    """A Lua chunk known to compile; ``run`` may be called from any thread."""

    source: str

    def run(
        self,
        bindings: Mapping[str, Any],
        *,
        instruction_limit: int = DEFAULT_INSTRUCTION_LIMIT,
        memory_limit: int = DEFAULT_MEMORY_LIMIT,
        pattern_limit: int | None = None,
    ) -> Any:
        """Run with ``bindings`` as global variables; returns the first value returned.

        With ``pattern_limit``, a pattern function given a longer subject ends the run
        with ScriptLimitError("pattern subject"): its C matcher cannot be interrupted, so
        such a run belongs in a process that can be killed.
        """
        try:
            return _sandbox().run(
                self.source, bindings, instruction_limit, memory_limit, pattern_limit
            )
        except lua54.LuaError as exc:
            # Failed outside the prelude's pcall: start this thread's runtime afresh.
            _local.sandbox = None
            raise _escaped_error(exc, memory_limit) from None
        except UnicodeDecodeError:
            raise ScriptError("script produced a string that is not valid UTF-8") from None


def _escaped_error(exc: Exception, memory_limit: int) -> ScriptError:
    if isinstance(exc, lua54.LuaMemoryError):
        return ScriptLimitError("memory", memory_limit)
    return _runtime_error(str(exc).split("\nstack traceback:", 1)[0], memory_limit)


def compile_lua(source: str) -> LuaProgram:
    """Compile (never run) ``source``; raises ScriptSyntaxError with the line."""
    sandbox = _sandbox()
    sandbox.limit_memory(DEFAULT_MEMORY_LIMIT)
    sandbox.chunk(source)
    return LuaProgram(source)
