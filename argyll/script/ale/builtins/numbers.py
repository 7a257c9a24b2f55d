"""Arithmetic and comparison: ``+ - * / mod``, ``inc``/``dec``, ``= != < <= > >=``, ``eq``.

Integers stay integers, a division that is not exact gives a ratio (as in Ale:
``(/ 10 4)`` is ``5/2``, which leaves a script as the JSON number 2.5), and any
float makes the result a float. ``=`` is deep equality (numbers by value, so
``(= 1 1.0)``); ``eq`` asks for identical values, so ``(eq 1 1.0)`` is false.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from fractions import Fraction
from functools import reduce
from typing import Any

from argyll.errors import ScriptError
from argyll.script.ale.budget import SCAN_RATE, Run
from argyll.script.ale.builtins.registry import BUILTINS, INT_LIMIT, builtin, fit, numbers
from argyll.script.ale.evaluator import FAST_CALLS
from argyll.script.ale.seqs import equal
from argyll.script.ale.values import MISSING, NUMBER_TYPES, Keyword


def _divide(a: Any, b: Any) -> Any:
    """Floats divide as IEEE 754 does (``(/ 1.0 0)`` is +inf); exact numbers may not divide by 0."""
    if type(a) is float or type(b) is float:
        if b == 0:
            return math.nan if a == 0 or math.isnan(a) else math.copysign(math.inf, a)
        return a / b
    if b == 0:
        raise ScriptError("/: division by zero")
    return fit(Fraction(a) / b)


def _modulo(a: Any, b: Any) -> Any:
    if b == 0:
        raise ScriptError("mod: division by zero")
    return fit(a % b)


@builtin("+")
def _add(run: Run, *values: Any) -> Any:
    return fit(sum(numbers("+", values)))


@builtin("*")
def _multiply(run: Run, *values: Any) -> Any:
    return fit(math.prod(numbers("*", values)))


@builtin("-")
def _subtract(run: Run, first: Any, *rest: Any) -> Any:
    numbers("-", (first, *rest))
    return fit(reduce(operator.sub, rest, first) if rest else -first)


@builtin("/")
def _div(run: Run, first: Any, *rest: Any) -> Any:
    numbers("/", (first, *rest))
    return reduce(_divide, rest, first) if rest else _divide(1, first)


@builtin("mod", "modulo")
def _mod(run: Run, first: Any, second: Any, *more: Any) -> Any:
    """The remainder of dividing each by the next, with the sign of the divisor."""
    return reduce(_modulo, numbers("mod", (second, *more)), numbers("mod", (first,))[0])


@builtin("inc")
def _inc(run: Run, value: Any) -> Any:
    numbers("inc", (value,))
    return fit(value + 1)


@builtin("dec")
def _dec(run: Run, value: Any) -> Any:
    numbers("dec", (value,))
    return fit(value - 1)


@builtin("abs")
def _abs(run: Run, value: Any) -> Any:
    numbers("abs", (value,))
    return fit(abs(value))


@builtin("min")
def _min(run: Run, first: Any, *rest: Any) -> Any:
    return min(numbers("min", (first, *rest)))


@builtin("max")
def _max(run: Run, first: Any, *rest: Any) -> Any:
    return max(numbers("max", (first, *rest)))


@builtin("=")
def _equal(run: Run, first: Any, *rest: Any) -> bool:
    if len(rest) == 1:
        return equal(first, rest[0], run)
    return all(equal(first, other, run) for other in rest)


@builtin("!=")
def _not_equal(run: Run, first: Any, *rest: Any) -> bool:
    return not _equal(run, first, *rest)


@builtin("eq")
def _identical(run: Run, first: Any, *rest: Any) -> bool:
    if len(rest) == 1:
        return equal(first, rest[0], run, strict=True)
    return all(equal(first, other, run, strict=True) for other in rest)


@builtin("!eq")
def _not_identical(run: Run, first: Any, *rest: Any) -> bool:
    return not _identical(run, first, *rest)


def _chain(name: str, test: Callable[[Any, Any], bool]) -> Callable[..., bool]:
    """A variadic comparison over numbers, or over strings."""

    def compare(run: Run, first: Any, *rest: Any) -> bool:
        if len(rest) == 1 and type(first) in NUMBER_TYPES and type(rest[0]) in NUMBER_TYPES:
            return test(first, rest[0])
        values = (first, *rest)
        if type(first) is not str:
            numbers(name, values)
        elif all(type(value) is str for value in rest):
            run.charge(sum(map(len, values)) // SCAN_RATE)
        else:
            raise ScriptError(f"{name}: cannot compare strings with other values")
        return all(map(test, values, rest))  # each value against the next

    return compare


builtin("<")(_chain("<", operator.lt))
builtin("<=")(_chain("<=", operator.le))
builtin(">")(_chain(">", operator.gt))
builtin(">=")(_chain(">=", operator.ge))


# ---------------------------------------------------------------- fast paths

_PLAIN = (int, float)
_SCALARS = (int, str, bool, Keyword, type(None))


def _fast_compare(test: Callable[[Any, Any], bool]) -> Callable[[Any, Any], Any]:
    def fast(a: Any, b: Any) -> Any:
        if type(a) in _PLAIN and type(b) in _PLAIN:
            return test(a, b)
        return MISSING

    return fast


def _fast_identical(a: Any, b: Any) -> Any:
    kind = type(a)
    if kind is type(b) and kind in _SCALARS and (kind is not str or len(a) < SCAN_RATE):
        return a == b
    return MISSING


def _fast_arithmetic(op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def fast(a: Any, b: Any) -> Any:
        if (type(a) is float and type(b) in _PLAIN) or (type(b) is float and type(a) is int):
            return op(a, b)
        if type(a) is int and type(b) is int:
            result = op(a, b)
            if -INT_LIMIT <= result < INT_LIMIT:
                return result
        return MISSING

    return fast


for _name, _fast in {
    "<": _fast_compare(operator.lt),
    "<=": _fast_compare(operator.le),
    ">": _fast_compare(operator.gt),
    ">=": _fast_compare(operator.ge),
    "eq": _fast_identical,
    "=": _fast_identical,
    "+": _fast_arithmetic(operator.add),
    "-": _fast_arithmetic(operator.sub),
    "*": _fast_arithmetic(operator.mul),
}.items():
    FAST_CALLS[_name] = (BUILTINS[_name], _fast)
