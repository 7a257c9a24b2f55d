"""Ale values: what they are, how they come from and go back to JSON, compare and print.

Null, booleans, numbers and strings are Python's own; keywords and quoted symbols
are small frozen classes; vectors are ``list``, lists are ``tuple`` and objects are
``dict`` keyed by plain ``str`` (``:k`` and ``"k"`` name the same key). Nothing
mutates a value once built, so literal constants are built once at compile time
and shared by every run. Functions are ``Lambda`` (made by ``lambda``/``fn``) and
``Builtin`` (the library's).

Walking a value item by item (conversion out, equality, printing) pays the run's
budget as it goes, so shared structure cannot make a small script do huge work.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from argyll.errors import ScriptError
from argyll.script.ale.budget import CONTAINER_COST, COPY_RATE, SCAN_RATE, Run

MISSING: Any = object()
"""An absent key, item or argument (null is a value)."""


@dataclass(frozen=True, slots=True)
class Keyword:
    name: str


@dataclass(frozen=True, slots=True)
class Symbol:
    """A name in the source; as a value, only from ``quote``."""

    name: str


Env = list[Any] | None
"""A frame of locals, ``[parent, value, ...]``; None outside every lambda and let."""
Node = Callable[[Env, Run], Any]
"""A compiled expression: evaluate it in a frame, paying into a run."""


class Lambda:
    """A closure made by ``lambda``/``fn``: its compiled body and the frame it captured."""

    __slots__ = ("arity", "body", "env", "weight")

    def __init__(self, arity: int, body: Node, weight: int, env: Env) -> None:
        self.arity, self.body, self.weight, self.env = arity, body, weight, env


class Builtin:
    """A library function; it receives the run first, then the call's arguments."""

    __slots__ = ("fn", "name")

    def __init__(self, name: str, fn: Callable[..., Any]) -> None:
        self.name, self.fn = name, fn


NUMBER_TYPES = (int, float)
SEQ_TYPES = (list, tuple)
_JSON_SCALARS = (str, int, float, bool, type(None))
_TYPE_NAMES: dict[type, str] = {
    type(None): "null",
    bool: "boolean",
    int: "integer",
    float: "float",
    str: "string",
    Keyword: "keyword",
    Symbol: "symbol",
    list: "vector",
    tuple: "list",
    dict: "object",
    Lambda: "function",
    Builtin: "function",
}


def type_name(value: Any) -> str:
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def key_name(key: Any) -> str | None:
    """The object key a keyword or string stands for; None for anything else."""
    if type(key) is Keyword:
        return key.name
    return key if type(key) is str else None


def truthy(value: Any) -> bool:
    return value is not None and value is not False


def object_of(pairs: Iterable[tuple[Any, Any]]) -> dict[str, Any]:
    result = {}
    for key, value in pairs:
        name = key_name(key)
        if name is None:
            raise ScriptError(f"object keys must be keywords or strings, not {type_name(key)}")
        result[name] = value
    return result


def lookup(coll: Any, key: Any) -> Any:
    """The item of an object or vector/list under ``key``, or MISSING."""
    kind = type(coll)
    if kind is dict:
        name = key_name(key)
        return MISSING if name is None else coll.get(name, MISSING)
    if kind is list or kind is tuple:
        return coll[key] if type(key) is int and 0 <= key < len(coll) else MISSING
    if coll is None:
        return MISSING
    raise ScriptError(f"cannot look up keys in a {type_name(coll)}")


def get(coll: Any, key: Any, default: Any = MISSING) -> Any:
    """What ``(get coll key default?)`` and ``(:key coll default?)`` answer."""
    found = lookup(coll, key)
    if found is not MISSING:
        return found
    if default is MISSING:
        raise ScriptError(f"get: no {show(key)} in the {type_name(coll)}")
    return default


def equal(a: Any, b: Any, run: Run) -> bool:
    """Deep equality: 1 equals 1.0, a vector equals a list with equal items, true is not 1."""
    kind_a, kind_b = type(a), type(b)
    if kind_a in NUMBER_TYPES and kind_b in NUMBER_TYPES:
        return a == b
    if kind_a in SEQ_TYPES and kind_b in SEQ_TYPES:
        run.charge(CONTAINER_COST + len(a))
        return len(a) == len(b) and all(equal(x, y, run) for x, y in zip(a, b, strict=True))
    if kind_a is not kind_b:
        return False
    if kind_a is dict:
        run.charge(CONTAINER_COST + len(a))
        return a.keys() == b.keys() and all(equal(item, b[key], run) for key, item in a.items())
    if kind_a is str:
        run.charge(len(a) // SCAN_RATE)
    return a == b


# ---------------------------------------------------------------- conversion


def to_ale(value: Any) -> Any:
    """A JSON-like input as an Ale value (copied: the caller keeps its own data)."""
    if type(value) in _JSON_SCALARS:
        return value
    if isinstance(value, Mapping):
        if not all(type(key) is str for key in value):
            raise ScriptError("input object keys must be strings")
        return {key: to_ale(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_ale(item) for item in value]
    for kind in (bool, int, float, str):  # subclasses such as IntEnum or StrEnum
        if isinstance(value, kind):
            return kind(value)
    raise ScriptError(f"input of type {type(value).__name__} is not JSON-like")


def to_json(value: Any, run: Run) -> Any:
    """An Ale value as plain JSON-like data; pays per item, so shared structure
    (a vector holding another twice, forty levels deep) cannot explode the output."""
    kind = type(value)
    if kind in _JSON_SCALARS:
        return value
    if kind is dict:
        run.charge(CONTAINER_COST + len(value))
        return {key: to_json(item, run) for key, item in value.items()}
    if kind is list or kind is tuple:
        run.charge(CONTAINER_COST + len(value))
        return [to_json(item, run) for item in value]
    if kind is Keyword or kind is Symbol:
        return value.name
    raise ScriptError("cannot return a function")


# ---------------------------------------------------------------- printing


_KEY_ATOM = re.compile(r"[^\s,;()\[\]{}\"':][^\s,;()\[\]{}\"]*")
_STRING_ESCAPES = str.maketrans({'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"})


def display(value: Any, run: Run) -> str:
    """What ``str`` shows of a non-string: null as "", anything else as written."""
    if value is None:
        return ""
    parts: list[str] = []
    _write(value, parts, run)
    return "".join(parts)


def _write(value: Any, parts: list[str], run: Run) -> None:
    """Append the readable form of a value, paying for its size as it goes."""
    kind = type(value)
    if kind is str:
        run.charge(len(value) // COPY_RATE)
        parts.append(show(value))
    elif kind is list or kind is tuple:
        run.charge(CONTAINER_COST + len(value))
        _write_items(value, "[]" if kind is list else "()", parts, run)
    elif kind is dict:
        run.charge(CONTAINER_COST + len(value))
        parts.append("{")
        for index, (key, item) in enumerate(value.items()):
            parts.append(" " if index else "")
            parts.append(f":{key} " if _KEY_ATOM.fullmatch(key) else f"{show(key)} ")
            _write(item, parts, run)
        parts.append("}")
    else:
        parts.append(show(value))


def _write_items(items: Iterable[Any], brackets: str, parts: list[str], run: Run) -> None:
    parts.append(brackets[0])
    for index, item in enumerate(items):
        if index:
            parts.append(" ")
        _write(item, parts, run)
    parts.append(brackets[1])


def show(value: Any) -> str:
    """The written form of a scalar (or a short placeholder), for ``str`` and messages."""
    kind = type(value)
    if value is None or kind is bool:
        return "null" if value is None else str(value).lower()
    if kind is int or kind is float:
        return repr(value)
    if kind is str:
        return '"' + value.translate(_STRING_ESCAPES) + '"'
    if kind is Keyword:
        return ":" + value.name
    if kind is Symbol:
        return value.name
    return f"#<{type_name(value)}>"
