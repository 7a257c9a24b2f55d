"""The Ale function library: every builtin, registered by name in ``BUILTINS``.

A builtin is ``fn(run, *args)``, added with ``@builtin("name", "alias"...)``. The
call itself costs one step (``invoke`` charges it); a builtin whose work grows with
its arguments pays for that work too: walking data item by item (``equal``,
``display``) charges as it goes, and copying charges one step per ``COPY_RATE``
items through ``_copied``. Argument errors are ``ScriptError`` naming the builtin;
a wrong arity surfaces as Python's ``TypeError``, which ``invoke`` reports.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable
from functools import reduce
from itertools import islice
from typing import Any, TypeVar

from argyll.errors import ScriptError, ScriptLimitError
from argyll.script.ale.budget import COPY_RATE, SCAN_RATE, Run
from argyll.script.ale.evaluator import invoke
from argyll.script.ale.values import (
    MISSING,
    NUMBER_TYPES,
    Builtin,
    Keyword,
    display,
    equal,
    get,
    key_name,
    object_of,
    truthy,
    type_name,
)

_INT_LIMIT = 2**63
"""Integer results must fit in 64 bits (as in Clojure): repeated squaring cannot eat memory."""

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


def _numbers(name: str, values: Iterable[Any]) -> Iterable[Any]:
    for value in values:
        if type(value) not in NUMBER_TYPES:
            raise ScriptError(f"{name}: expected a number, got {type_name(value)}")
    return values


def _integer(name: str, value: Any) -> int:
    if type(value) is not int:
        raise ScriptError(f"{name}: expected an integer, got {type_name(value)}")
    return value


def _fit(value: Any) -> Any:
    if type(value) is int and not -_INT_LIMIT <= value < _INT_LIMIT:
        raise ScriptError("integer overflow")
    return value


def _seq(name: str, value: Any) -> list[Any] | tuple[Any, ...]:
    """A vector or list argument; null counts as the empty list."""
    if type(value) is list or type(value) is tuple:
        return value
    if value is None:
        return ()
    raise ScriptError(f"{name}: expected a vector or list, got {type_name(value)}")


def _copied(run: Run, result: Any) -> Any:
    run.charge(len(result) // COPY_RATE)
    return result


def _divide(a: Any, b: Any) -> Any:
    """Exact integer quotients stay integers; everything else is float division."""
    if b == 0:
        raise ScriptError("/: division by zero")
    if type(a) is int and type(b) is int:
        quotient, remainder = divmod(a, b)
        if remainder == 0:
            return quotient
    return a / b


@builtin("+")
def _add(run: Run, *values: Any) -> Any:
    return _fit(sum(_numbers("+", values)))


@builtin("*")
def _multiply(run: Run, *values: Any) -> Any:
    return _fit(math.prod(_numbers("*", values)))


@builtin("-")
def _subtract(run: Run, first: Any, *rest: Any) -> Any:
    _numbers("-", (first, *rest))
    return _fit(reduce(operator.sub, rest, first) if rest else -first)


@builtin("/")
def _div(run: Run, first: Any, *rest: Any) -> Any:
    _numbers("/", (first, *rest))
    return reduce(_divide, rest, first) if rest else _divide(1, first)


@builtin("mod")
def _mod(run: Run, a: Any, b: Any) -> Any:
    _numbers("mod", (a, b))
    if b == 0:
        raise ScriptError("mod: division by zero")
    return a % b


@builtin("inc")
def _inc(run: Run, value: Any) -> Any:
    _numbers("inc", (value,))
    return _fit(value + 1)


@builtin("dec")
def _dec(run: Run, value: Any) -> Any:
    _numbers("dec", (value,))
    return _fit(value - 1)


@builtin("abs")
def _abs(run: Run, value: Any) -> Any:
    _numbers("abs", (value,))
    return _fit(abs(value))


@builtin("min")
def _min(run: Run, first: Any, *rest: Any) -> Any:
    return min(_numbers("min", (first, *rest)))


@builtin("max")
def _max(run: Run, first: Any, *rest: Any) -> Any:
    return max(_numbers("max", (first, *rest)))


@builtin("zero?")
def _is_zero(run: Run, value: Any) -> bool:
    _numbers("zero?", (value,))
    return value == 0


@builtin("even?")
def _is_even(run: Run, value: Any) -> bool:
    return _integer("even?", value) % 2 == 0


@builtin("odd?")
def _is_odd(run: Run, value: Any) -> bool:
    return _integer("odd?", value) % 2 == 1


@builtin("=")
def _eq(run: Run, first: Any, *rest: Any) -> bool:
    return all(equal(first, other, run) for other in rest)


@builtin("!=")
def _not_eq(run: Run, first: Any, *rest: Any) -> bool:
    return not _eq(run, first, *rest)


def _chain(name: str, test: Callable[[Any, Any], bool]) -> Callable[..., bool]:
    """A variadic comparison over numbers, or over strings."""

    def compare(run: Run, first: Any, *rest: Any) -> bool:
        values = (first, *rest)
        if type(first) is not str:
            _numbers(name, values)
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


@builtin("not")
def _not(run: Run, value: Any) -> bool:
    return not truthy(value)


@builtin("identity")
def _identity(run: Run, value: Any) -> Any:
    return value


@builtin("str")
def _str(run: Run, *values: Any) -> str:
    """Pays for the result's length before joining: inputs can be long and repeated."""
    texts = [value if type(value) is str else display(value, run) for value in values]
    run.charge(len(texts) + sum(map(len, texts)) // COPY_RATE)
    return "".join(texts)


@builtin("list")
def _list(run: Run, *values: Any) -> tuple[Any, ...]:
    return values


@builtin("vector")
def _vector(run: Run, *values: Any) -> list[Any]:
    return list(values)


@builtin("object")
def _object(run: Run, *pairs: Any) -> dict[str, Any]:
    if len(pairs) % 2:
        raise ScriptError("object: needs a value for every key")
    return object_of(zip(pairs[::2], pairs[1::2], strict=True))


@builtin("get")
def _get(run: Run, coll: Any, key: Any, default: Any = MISSING) -> Any:
    return get(coll, key, default)


@builtin("nth")
def _nth(run: Run, coll: Any, index: Any, default: Any = MISSING) -> Any:
    items = _seq("nth", coll)
    if 0 <= _integer("nth", index) < len(items):
        return items[index]
    if default is MISSING:
        raise ScriptError(f"nth: index {index} out of range")
    return default


@builtin("contains?")
def _contains(run: Run, coll: Any, item: Any) -> bool:
    """A key of an object, an element of a vector or list, a substring of a string."""
    kind = type(coll)
    if kind is dict:
        return key_name(item) in coll
    if kind is str and type(item) is str:
        run.charge(len(coll) // COPY_RATE)
        return item in coll
    items = _seq("contains?", coll)
    run.charge(len(items))
    return any(equal(element, item, run) for element in items)


@builtin("assoc")
def _assoc(run: Run, coll: Any, *pairs: Any) -> Any:
    """A copy of an object (or null) with keys set, or of a vector with indexes set."""
    if not pairs or len(pairs) % 2:
        raise ScriptError("assoc: needs keys and values")
    if type(coll) is list:
        result = list(coll)
        for index, value in zip(pairs[::2], pairs[1::2], strict=True):
            if not 0 <= _integer("assoc", index) <= len(result):
                raise ScriptError(f"assoc: index {index} out of range")
            result[index : index + 1] = [value]
        return _copied(run, result)
    if coll is not None and type(coll) is not dict:
        raise ScriptError(f"assoc: expected an object or vector, got {type_name(coll)}")
    return _copied(run, {**(coll or {}), **object_of(zip(pairs[::2], pairs[1::2], strict=True))})


@builtin("dissoc")
def _dissoc(run: Run, coll: Any, *keys: Any) -> dict[str, Any]:
    if type(coll) is not dict:
        raise ScriptError(f"dissoc: expected an object, got {type_name(coll)}")
    names = {key_name(key) for key in keys}
    return _copied(run, {key: value for key, value in coll.items() if key not in names})


def _size(name: str, value: Any) -> int:
    if type(value) in (list, tuple, str, dict):
        return len(value)
    if value is None:
        return 0
    raise ScriptError(f"{name}: expected a collection or string, got {type_name(value)}")


@builtin("length")
def _length(run: Run, value: Any) -> int:
    return _size("length", value)


@builtin("empty?")
def _is_empty(run: Run, value: Any) -> bool:
    return _size("empty?", value) == 0


@builtin("first", "car")
def _first(run: Run, coll: Any) -> Any:
    items = _seq("first", coll)
    return items[0] if items else None


@builtin("last")
def _last(run: Run, coll: Any) -> Any:
    items = _seq("last", coll)
    return items[-1] if items else None


@builtin("rest", "cdr")
def _rest(run: Run, coll: Any) -> Any:
    return _copied(run, _seq("rest", coll)[1:])


@builtin("reverse")
def _reverse(run: Run, coll: Any) -> Any:
    return _copied(run, _seq("reverse", coll)[::-1])


@builtin("take")
def _take(run: Run, count: Any, coll: Any) -> Any:
    return _copied(run, _seq("take", coll)[: max(_integer("take", count), 0)])


@builtin("drop")
def _drop(run: Run, count: Any, coll: Any) -> Any:
    return _copied(run, _seq("drop", coll)[max(_integer("drop", count), 0) :])


@builtin("conj")
def _conj(run: Run, coll: Any, *values: Any) -> Any:
    """Append to a vector; prepend (one by one) to a list or null."""
    items = _seq("conj", coll)
    if type(items) is list:
        return _copied(run, [*items, *values])
    return _copied(run, (*values[::-1], *items))


@builtin("cons")
def _cons(run: Run, value: Any, coll: Any) -> tuple[Any, ...]:
    return _copied(run, (value, *_seq("cons", coll)))


@builtin("concat")
def _concat(run: Run, *colls: Any) -> Any:
    """Items of every argument, as a list if the first one is a list, else a vector."""
    items = [item for coll in colls for item in _seq("concat", coll)]
    return _copied(run, tuple(items) if colls and type(colls[0]) is tuple else items)


@builtin("seq->vector")
def _to_vector(run: Run, coll: Any) -> list[Any]:
    return _copied(run, list(_seq("seq->vector", coll)))


@builtin("seq->list")
def _to_list(run: Run, coll: Any) -> tuple[Any, ...]:
    return _copied(run, tuple(_seq("seq->list", coll)))


@builtin("range")
def _range(run: Run, *bounds: Any) -> list[int]:
    """``(range max)``, ``(range min max)`` or ``(range min max step)``; one step per item."""
    if not 1 <= len(bounds) <= 3:
        raise ScriptError("range: expected (range min max step?)")
    numbers = range(*[_integer("range", bound) for bound in bounds])
    try:
        run.charge(len(numbers))
    except OverflowError:
        raise ScriptLimitError("steps", run.budget) from None
    return list(numbers)


@builtin("map")
def _map(run: Run, fn: Any, first: Any, *more: Any) -> Any:
    """Call ``fn`` on the items of each sequence in turn, stopping at the shortest."""
    items = _seq("map", first)
    if more:
        rows = zip(items, *[_seq("map", coll) for coll in more], strict=False)
        result = [invoke(fn, run, row) for row in rows]
    else:
        result = [invoke(fn, run, (item,)) for item in items]
    return tuple(result) if type(items) is tuple else result


@builtin("filter")
def _filter(run: Run, fn: Any, coll: Any) -> Any:
    items = _seq("filter", coll)
    result = [item for item in items if truthy(invoke(fn, run, (item,)))]
    return tuple(result) if type(items) is tuple else result


@builtin("reduce", "fold-left")
def _reduce(run: Run, fn: Any, *args: Any) -> Any:
    """``(reduce f init seq)``, or ``(reduce f seq)`` starting from the first item."""
    if len(args) == 2:
        total, items = args[0], iter(_seq("reduce", args[1]))
    elif len(args) == 1:
        coll = _seq("reduce", args[0])
        if not coll:
            return invoke(fn, run, ())
        total, items = coll[0], islice(coll, 1, None)
    else:
        raise ScriptError("reduce: expected (reduce f init? seq)")
    for item in items:
        total = invoke(fn, run, (total, item))
    return total


@builtin("apply")
def _apply(run: Run, fn: Any, *args: Any) -> Any:
    """``(apply f a b [c d])`` calls ``(f a b c d)``."""
    if not args:
        raise ScriptError("apply: expected (apply f args... seq)")
    spread = _seq("apply", args[-1])
    run.charge(len(spread))  # the callee handles each argument
    return invoke(fn, run, (*args[:-1], *spread))


def _is(kind: type) -> Callable[[Run, Any], bool]:
    return lambda run, value: type(value) is kind


builtin("null?")(_is(type(None)))
builtin("string?")(_is(str))
builtin("keyword?")(_is(Keyword))
builtin("vector?")(_is(list))
builtin("list?")(_is(tuple))
builtin("object?")(_is(dict))
