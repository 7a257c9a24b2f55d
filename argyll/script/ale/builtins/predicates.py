"""The ``…?`` predicates and their negated ``!…?`` forms, and the type tests of ``is-a``.

As in Ale, each predicate takes one or more values and is true when every one
passes (``(string? "a" "b")``); its ``!`` form is true when none does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from argyll.errors import ScriptError
from argyll.script.ale.budget import Run
from argyll.script.ale.builtins.registry import builtin, integer
from argyll.script.ale.seqs import LAZY_TYPES, Stream, is_empty, is_seq
from argyll.script.ale.values import (
    FUNCTION_TYPES,
    NUMBER_TYPES,
    AleSet,
    Cons,
    Keyword,
    Symbol,
    show,
    type_name,
)

Test = Callable[[Any], bool]


def _is_float(value: Any, test: Callable[[float], bool]) -> bool:
    return type(value) is float and test(value)


def _number(name: str, value: Any) -> Any:
    if type(value) not in NUMBER_TYPES:
        raise ScriptError(f"{name}: expected a number, got {type_name(value)}")
    return value


def _compound(value: Any) -> bool:
    kind = type(value)
    return kind in (list, dict, AleSet, *LAZY_TYPES) or (kind is tuple and bool(value))


TESTS: dict[str, Test] = {
    "any": lambda value: True,
    "appendable": lambda value: type(value) is list,
    "atom": lambda value: not _compound(value),
    "boolean": lambda value: type(value) is bool,
    "cons": lambda value: type(value) is Cons or (type(value) is tuple and bool(value)),
    "counted": lambda value: value is None or type(value) in (list, tuple, str, dict, AleSet),
    "empty": is_empty,
    "even": lambda value: integer("even?", value) % 2 == 0,
    "false": lambda value: value is False,
    "indexed": lambda value: value is None or type(value) in (list, tuple, str, Stream),
    "keyword": lambda value: type(value) is Keyword,
    "list": lambda value: value is None or type(value) is tuple,
    "local": lambda value: type(value) is Symbol and "/" not in value.name.strip("/"),
    "mapped": lambda value: type(value) in (dict, AleSet),
    "mapper": lambda value: type(value) is dict,
    "nan": lambda value: _is_float(value, math.isnan),
    "-inf": lambda value: _is_float(value, lambda number: number == -math.inf),
    "null": lambda value: value is None,
    "number": lambda value: type(value) in NUMBER_TYPES,
    "object": lambda value: type(value) is dict,
    "odd": lambda value: integer("odd?", value) % 2 == 1,
    "pair": lambda value: type(value) is Cons or (type(value) is tuple and bool(value)),
    "inf": lambda value: _is_float(value, lambda number: number == math.inf),
    "procedure": lambda value: type(value) in FUNCTION_TYPES,
    "qualified": lambda value: type(value) is Symbol and "/" in value.name.strip("/"),
    "reversible": lambda value: value is None or type(value) in (list, tuple, str),
    "seq": is_seq,
    "set": lambda value: type(value) is AleSet,
    "string": lambda value: type(value) is str,
    "symbol": lambda value: type(value) is Symbol,
    "true": lambda value: value is True,
    "vector": lambda value: type(value) is list,
    "zero": lambda value: _number("zero?", value) == 0,
}

TYPE_TESTS: dict[str, Test] = {
    **TESTS,
    "sequence": is_seq,
    "appender": TESTS["appendable"],
    "reverser": TESTS["reversible"],
    "integer": lambda value: type(value) is int,
    "float": lambda value: type(value) is float,
}
"""The tests ``is-a`` and ``assert-type`` find by keyword (``:number``, ``:string`` ...)."""


def _register(name: str, test: Test) -> None:
    def every(run: Run, first: Any, *rest: Any) -> bool:
        if not rest:
            return bool(test(first))
        return all(test(value) for value in (first, *rest))

    def none(run: Run, first: Any, *rest: Any) -> bool:
        if not rest:
            return not test(first)
        return not any(test(value) for value in (first, *rest))

    builtin(f"{name}?")(every)
    builtin(f"!{name}?")(none)


for _name, _test in TESTS.items():
    _register(_name, _test)


def type_test(kind: Any) -> Test:
    if type(kind) is not Keyword or kind.name not in TYPE_TESTS:
        raise ScriptError(f"is-a: {show(kind)} is not a type keyword")
    return TYPE_TESTS[kind.name]


@builtin("is-a")
def _is_a(run: Run, kind: Any, value: Any) -> bool:
    return type_test(kind)(value)


@builtin("assert-type")
def _assert_type(run: Run, kind: Any, value: Any) -> Any:
    if not type_test(kind)(value):
        raise ScriptError(f"got {type_name(value)}, expected {kind.name}")
    return value
