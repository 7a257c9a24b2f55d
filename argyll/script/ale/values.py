"""Ale values: what they are, how they come from and go back to JSON, compare and print.

Booleans, numbers (``int``, ``float`` and ``Fraction`` for Ale's ratios) and strings are
Python's own. ``None`` is Ale's ``null``, which is also the empty list: every list
constructor gives ``None`` rather than an empty tuple. A non-empty list is a
``tuple``, a vector a ``list``, an object a ``dict`` (``:k`` and ``"k"`` name the same
key, stored as ``"k"``; numbers and booleans may be keys too) and a set an
``AleSet``. ``Cons`` is a pair: an improper one (``(1 . 2)``) or an item in front of a
lazy sequence. Lazy sequences (``Lazy``, ``Stream``) live in ``seqs``.

Nothing mutates a value once built, so literal constants are built once at compile
time and shared by every run. Walking a value item by item (conversion out,
equality, printing) pays the run's budget as it goes, so shared structure cannot
make a small script do huge work.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from argyll.errors import ScriptError
from argyll.script.ale.budget import Run

MISSING: Any = object()
"""An absent key, item or argument (null is a value)."""


@dataclass(frozen=True, slots=True)
class Keyword:
    name: str


@dataclass(frozen=True, slots=True)
class Symbol:
    """A name in the source (``pos`` is its offset, for errors); as a value, only from quote."""

    name: str
    pos: int = field(default=-1, compare=False)


class Cons:
    """A pair ``(first . rest)``: an improper pair, or an item before a lazy sequence."""

    __slots__ = ("first", "rest")

    def __init__(self, first: Any, rest: Any) -> None:
        self.first, self.rest = first, rest


class AleSet:
    """A set of values; members are found by their ``frozen`` form, so 1 and 1.0 are one."""

    __slots__ = ("members",)

    def __init__(self, members: dict[Any, Any]) -> None:
        self.members = members

    def __len__(self) -> int:
        return len(self.members)


Env = list[Any] | None
"""A frame of locals, ``[parent, value, ...]``; None outside every lambda and let."""
Node = Callable[[Env, Run], Any]
"""A compiled expression: evaluate it in a frame, paying into a run."""


class Lambda:
    """A closure made by ``lambda``: its compiled body and the frame it captured.

    ``arity`` counts the fixed parameters; with ``rest``, the extra arguments are
    bound, as a list, to one more parameter.
    """

    __slots__ = ("arity", "body", "env", "name", "rest", "weight")

    def __init__(
        self, arity: int, body: Node, weight: int, env: Env, rest: bool = False, name: str = ""
    ) -> None:
        self.arity, self.body, self.weight, self.env = arity, body, weight, env
        self.rest, self.name = rest, name


class Cases:
    """A lambda of several arities, ``(lambda [(x) ...] [(x y) ...])``: the first that fits runs."""

    __slots__ = ("cases",)

    def __init__(self, cases: tuple[Lambda, ...]) -> None:
        self.cases = cases


class Builtin:
    """A library function; it receives the run first, then the call's arguments."""

    __slots__ = ("fn", "name")

    def __init__(self, name: str, fn: Callable[..., Any]) -> None:
        self.name, self.fn = name, fn


class AleRaised(ScriptError):
    """A value raised by ``raise`` (or an error turned into one), catchable by ``try``."""

    def __init__(self, value: Any, message: str) -> None:
        super().__init__(message)
        self.value = value


NUMBER_TYPES = (int, float, Fraction)
FUNCTION_TYPES = (Lambda, Cases, Builtin)
_KEY_SCALARS = (int, float, bool)
_TYPE_NAMES: dict[type, str] = {
    type(None): "null",
    bool: "boolean",
    int: "integer",
    float: "float",
    Fraction: "ratio",
    str: "string",
    Keyword: "keyword",
    Symbol: "symbol",
    list: "vector",
    tuple: "list",
    dict: "object",
    AleSet: "set",
    Cons: "pair",
    Lambda: "function",
    Cases: "function",
    Builtin: "function",
}


def type_name(value: Any) -> str:
    return _TYPE_NAMES.get(type(value), getattr(type(value), "ale_type", type(value).__name__))


def make_list(items: Iterable[Any]) -> tuple[Any, ...] | None:
    """A list of these items: the empty list is null."""
    return tuple(items) or None


def key_name(key: Any) -> Any:
    """The object key a keyword, string, number or boolean stands for; None for others."""
    kind = type(key)
    if kind is Keyword:
        return key.name
    if kind is str or kind in _KEY_SCALARS:
        return key
    return None


def truthy(value: Any) -> bool:
    return value is not None and value is not False


def object_of(pairs: Iterable[tuple[Any, Any]]) -> dict[Any, Any]:
    result = {}
    for key, value in pairs:
        name = key_name(key)
        if name is None:
            raise ScriptError(
                f"object keys must be keywords, strings or numbers, not {type_name(key)}"
            )
        result[name] = value
    return result


def frozen(value: Any) -> Any:
    """A hashable stand-in for a value, equal for values Ale calls equal (a set's key)."""
    kind = type(value)
    if kind is bool:
        return ("boolean", value)
    if kind is list or kind is tuple:
        return ("seq", tuple(frozen(item) for item in value))
    if kind is dict:
        return ("object", frozenset((key, frozen(item)) for key, item in value.items()))
    if kind is AleSet:
        return ("set", frozenset(value.members))
    if kind is float and math.isnan(value):
        return ("nan",)
    try:
        hash(value)
    except TypeError:
        raise ScriptError(f"a {type_name(value)} cannot be a set member") from None
    return value


def set_of(values: Iterable[Any]) -> AleSet:
    return AleSet({frozen(value): value for value in values})


def lookup(coll: Any, key: Any) -> Any:
    """The item of an object, set or vector/list under ``key``, or MISSING."""
    kind = type(coll)
    if kind is dict:
        name = key_name(key)
        return MISSING if name is None else coll.get(name, MISSING)
    if kind is list or kind is tuple:
        return coll[key] if type(key) is int and 0 <= key < len(coll) else MISSING
    if kind is AleSet:
        return coll.members.get(frozen(key), MISSING)
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


# ---------------------------------------------------------------- printing


_KEY_ATOM = re.compile(r"[^\s,;()\[\]{}\"':#][^\s,;()\[\]{}\"]*")
_STRING_ESCAPES = str.maketrans({'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"})


def show(value: Any) -> str:
    """The written form of a scalar (or a short placeholder), for ``str`` and messages."""
    kind = type(value)
    if value is None or kind is bool:
        return "null" if value is None else str(value).lower()
    if kind is int or kind is Fraction:
        return str(value)
    if kind is float:
        return _show_float(value)
    if kind is str:
        return '"' + value.translate(_STRING_ESCAPES) + '"'
    if kind is Keyword:
        return ":" + value.name
    if kind is Symbol:
        return value.name
    return f"#<{type_name(value)}>"


def show_key(key: Any) -> str:
    if type(key) is str:
        return f":{key}" if _KEY_ATOM.fullmatch(key) else show(key)
    return show(key)


def _show_float(value: float) -> str:
    if math.isinf(value):
        return "+inf" if value > 0 else "-inf"
    return "nan" if math.isnan(value) else repr(value)
