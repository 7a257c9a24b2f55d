"""Where builtins are registered, and the argument checks every family shares.

A builtin is ``fn(run, *args)``, added with ``@builtin("name", "alias"...)``. The
call itself costs one step (``invoke`` charges it); a builtin whose work grows with
its arguments pays for that work too: walking data item by item charges as it
goes, realizing a lazy sequence one step per item, and copying one step per
``COPY_RATE`` items through ``copied``. Argument errors are ``ScriptError`` naming
the builtin; a wrong arity surfaces as Python's ``TypeError``, which ``invoke`` reports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sized
from fractions import Fraction
from typing import Any, TypeVar

from argyll.errors import ScriptError
from argyll.script.ale.budget import COPY_RATE, Run
from argyll.script.ale.seqs import is_seq
from argyll.script.ale.values import NUMBER_TYPES, Builtin, Cons, type_name

INT_LIMIT = 2**63
"""Integer results must fit in 64 bits: repeated squaring cannot eat memory."""

BUILTINS: dict[str, Builtin] = {}
"""Every library function by name; a program's scope starts from the ones it names."""
_F = TypeVar("_F", bound=Callable[..., Any])


def builtin(*names: str) -> Callable[[_F], _F]:
    """Register ``fn(run, *args)`` under each name (aliases share one function)."""

    def register(fn: _F) -> _F:
        for name in names:
            BUILTINS[name] = Builtin(name, fn)
        return fn

    return register


def numbers(name: str, values: Iterable[Any]) -> Iterable[Any]:
    for value in values:
        if type(value) not in NUMBER_TYPES:
            raise ScriptError(f"{name}: expected a number, got {type_name(value)}")
    return values


def integer(name: str, value: Any) -> int:
    if type(value) is not int:
        raise ScriptError(f"{name}: expected an integer, got {type_name(value)}")
    return value


def fit(value: Any) -> Any:
    """An integer (or a ratio's parts) within 64 bits; a ratio that is whole, an integer."""
    if type(value) is int and not -INT_LIMIT <= value < INT_LIMIT:
        raise ScriptError("integer overflow")
    if type(value) is Fraction:
        if value.denominator == 1:
            return fit(value.numerator)
        if not (-INT_LIMIT <= value.numerator < INT_LIMIT and value.denominator < INT_LIMIT):
            raise ScriptError("ratio overflow")
    return value


def sequence(name: str, value: Any) -> Any:
    """A sequence argument (strings count: their items are characters)."""
    if is_seq(value) or type(value) is str:
        return value
    raise ScriptError(f"{name}: expected a sequence, got {type_name(value)}")


def copied(run: Run, result: Sized) -> Any:
    run.charge(len(result) // COPY_RATE)
    return result


def pair_of(value: Any) -> tuple[Any, Any]:
    """A ``(key . value)`` pair or a ``[key value]`` vector as a Python pair."""
    if type(value) is Cons:
        return value.first, value.rest
    if type(value) in (list, tuple) and len(value) == 2:
        return value[0], value[1]
    raise ScriptError(
        f"expected a (key . value) pair or a [key value] vector, got {type_name(value)}"
    )
