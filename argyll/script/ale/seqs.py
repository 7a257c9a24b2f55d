"""Ale sequences: lazy ones, walking any sequence, and what walks them (equality, JSON, printing).

Two kinds of lazy sequence, both realized at most once and paying one step per
item realized, so an infinite one is stopped by the step budget:

- ``Lazy``: what ``(lazy-seq body...)`` makes; forcing it runs the body, whose value
  is any sequence (often ``(cons x (lazy-seq ...))``, a ``Cons`` before another ``Lazy``);
- ``Stream``: what the library's lazy functions (``map``, ``filter``, ``range`` ...)
  make from a Python iterator; ``rest`` of a stream shares its buffer.

``items`` walks every kind iteratively (a ``Cons`` chain a million long needs no
Python recursion); ``first``, ``rest`` and ``is_empty`` look at as little as they can.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from fractions import Fraction
from typing import Any

from argyll.errors import ScriptError
from argyll.script.ale.budget import CONTAINER_COST, COPY_RATE, SCAN_RATE, Run
from argyll.script.ale.values import (
    FUNCTION_TYPES,
    MISSING,
    NUMBER_TYPES,
    AleSet,
    Cons,
    Keyword,
    Symbol,
    make_list,
    show,
    show_key,
    type_name,
)


class Lazy:
    """A sequence computed when first needed: ``produce()`` gives it, once."""

    __slots__ = ("forcing", "produce", "value")
    ale_type = "sequence"

    def __init__(self, produce: Callable[[], Any]) -> None:
        self.produce: Callable[[], Any] | None = produce
        self.value: Any = None
        self.forcing = False

    def force(self) -> Any:
        if self.produce is not None:
            if self.forcing:
                raise ScriptError("lazy-seq: a lazy sequence needs its own value to be computed")
            self.forcing = True
            try:
                self.value, self.produce = self.produce(), None
            finally:
                self.forcing = False
        return self.value


class _Buffer:
    __slots__ = ("error", "items", "run", "source")

    def __init__(self, source: Iterator[Any], run: Run) -> None:
        self.items: list[Any] = []
        self.source: Iterator[Any] | None = source
        self.run = run
        self.error: Exception | None = None
        """What stopped the iterator, raised again on every later read past the items."""


class Stream:
    """A lazy sequence read from a Python iterator; items are kept once realized."""

    __slots__ = ("buffer", "start")
    ale_type = "sequence"

    def __init__(self, buffer: _Buffer, start: int = 0) -> None:
        self.buffer, self.start = buffer, start

    def item(self, index: int) -> Any:
        """The item at ``index`` (from this stream's start), or MISSING past the end."""
        position = self.start + index
        buffer = self.buffer
        while len(buffer.items) <= position:
            if buffer.error is not None:
                raise buffer.error
            if buffer.source is None:
                return MISSING
            try:
                value = next(buffer.source)
            except StopIteration:
                buffer.source = None
                return MISSING
            except Exception as error:  # a failed item fails every read that reaches it
                buffer.source, buffer.error = None, error
                raise
            buffer.run.charge(1)
            buffer.items.append(value)
        return buffer.items[position]


LAZY_TYPES = (Lazy, Stream, Cons)
ORDERED_TYPES = (list, tuple, Lazy, Stream, Cons)


def stream(source: Iterator[Any], run: Run) -> Stream:
    return Stream(_Buffer(source, run))


def is_seq(value: Any) -> bool:
    """Whether ``items`` can walk it (strings are walked too, though not ``seq?``)."""
    return value is None or type(value) in (*ORDERED_TYPES, dict, AleSet)


def items(value: Any) -> Iterator[Any]:
    """Every item of a sequence, string or object (objects give ``(key . value)`` pairs)."""
    while True:
        kind = type(value)
        if kind is Cons:
            yield value.first
            value = value.rest
        elif kind is Lazy:
            value = value.force()
        elif kind is Stream:
            index = 0
            while (item := value.item(index)) is not MISSING:
                yield item
                index += 1
            return
        elif value is None:
            return
        elif kind is list or kind is tuple or kind is str:
            yield from value
            return
        elif kind is dict:
            for key, item in value.items():
                yield Cons(Keyword(key) if type(key) is str else key, item)
            return
        elif kind is AleSet:
            yield from value.members.values()
            return
        else:
            raise ScriptError(f"expected a sequence, got {type_name(value)}")


def realize(value: Any, run: Run) -> list[Any] | tuple[Any, ...]:
    """The items of a sequence, in a list (or the vector or list itself)."""
    kind = type(value)
    if kind is list or kind is tuple:
        return value
    if value is None:
        return ()
    result = list(items(value))
    run.charge(len(result) // COPY_RATE)
    return result


def proper(value: Any) -> tuple[list[Any], Any]:
    """A pair chain's items and what ends it: MISSING when it ends in a sequence."""
    found = []
    while type(value) is Cons:
        found.append(value.first)
        value = value.rest
    while type(value) is Lazy:
        value = value.force()
    if is_seq(value):
        found.extend(items(value))
        return found, MISSING
    return found, value


def first(value: Any) -> Any:
    kind = type(value)
    if kind is Cons:
        return value.first
    if kind is list or kind is tuple or kind is str:
        return value[0] if value else None
    if kind is Stream:
        item = value.item(0)
        return None if item is MISSING else item
    for item in items(value):
        return item
    return None


def rest(value: Any, run: Run) -> Any:
    """All but the first item: a vector's rest is a vector, a string's a string, a list's a list."""
    kind = type(value)
    if kind is Cons:
        return value.rest
    if kind is tuple:
        run.charge(len(value) // COPY_RATE)
        return make_list(value[1:])
    if kind is list or kind is str:
        run.charge(len(value) // COPY_RATE)
        return value[1:]
    if kind is Stream:
        return None if value.item(0) is MISSING else Stream(value.buffer, value.start + 1)
    if kind is Lazy:
        return rest(value.force(), run)
    if value is None:
        return None
    return make_list(list(items(value))[1:])


def is_empty(value: Any) -> bool:
    kind = type(value)
    if kind is Stream:
        return value.item(0) is MISSING
    if kind is Lazy:
        return is_empty(value.force())
    if kind is Cons:
        return False
    if value is None:
        return True
    if kind in (list, tuple, str, dict, AleSet):
        return not len(value)
    raise ScriptError(f"empty?: expected a sequence, got {type_name(value)}")


# ---------------------------------------------------------------- equality


def equal(a: Any, b: Any, run: Run, strict: bool = False) -> bool:
    """Deep equality: 1 equals 1.0 (unless ``strict``, as ``eq`` asks), a vector equals a
    list with equal items, true is not 1, null is the empty list."""
    kind_a, kind_b = type(a), type(b)
    if kind_a is kind_b and (kind_a is int or kind_a is bool or kind_a is Keyword):
        return a == b
    if kind_a in NUMBER_TYPES and kind_b in NUMBER_TYPES:
        return a == b and (not strict or kind_a is kind_b)
    ordered_a = a is None or kind_a in ORDERED_TYPES
    ordered_b = b is None or kind_b in ORDERED_TYPES
    if ordered_a or ordered_b:
        if not (ordered_a and ordered_b) or (strict and (kind_a is list) != (kind_b is list)):
            return False
        return _equal_items(a, b, run, strict)
    if kind_a is not kind_b:
        return False
    if kind_a is dict:
        run.charge(CONTAINER_COST + len(a))
        return a.keys() == b.keys() and all(
            equal(item, b[key], run, strict) for key, item in a.items()
        )
    if kind_a is AleSet:
        run.charge(CONTAINER_COST + len(a))
        return a.members.keys() == b.members.keys()
    if kind_a is str:
        run.charge(len(a) // SCAN_RATE)
    if kind_a in FUNCTION_TYPES:
        return a is b
    return bool(a == b)


def _equal_items(a: Any, b: Any, run: Run, strict: bool) -> bool:
    if type(a) in (list, tuple) and type(b) in (list, tuple) and len(a) != len(b):
        return False
    items_a, tail_a = proper(a)
    items_b, tail_b = proper(b)
    run.charge(CONTAINER_COST + len(items_a))
    if len(items_a) != len(items_b) or (tail_a is MISSING) != (tail_b is MISSING):
        return False
    if tail_a is not MISSING and not equal(tail_a, tail_b, run, strict):
        return False
    return all(equal(x, y, run, strict) for x, y in zip(items_a, items_b, strict=True))


# ---------------------------------------------------------------- conversion

_JSON_SCALARS = (str, int, float, bool, type(None))


def to_ale(value: Any) -> Any:
    """A JSON-like input as an Ale value (copied: the caller keeps its own data)."""
    kind = type(value)
    if kind in _JSON_SCALARS:
        return value
    if kind is list:
        return [item if type(item) in _JSON_SCALARS else to_ale(item) for item in value]
    if isinstance(value, dict):
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
        if kind is float and not math.isfinite(value):
            raise ScriptError(f"cannot return {show(value)}: JSON has no such number")
        return value
    if kind is Fraction:
        return float(value)
    if kind is dict:
        run.charge(CONTAINER_COST + len(value))
        return {
            key if type(key) is str else show(key): to_json(item, run)
            for key, item in value.items()
        }
    if kind is list or kind is tuple:
        run.charge(CONTAINER_COST + len(value))
        return [to_json(item, run) for item in value]
    if kind is Keyword or kind is Symbol:
        return value.name
    if kind in LAZY_TYPES or kind is AleSet:
        found, tail = proper(value)
        if tail is not MISSING:
            found.append(tail)
        return to_json(found, run)
    raise ScriptError("cannot return a function")


# ---------------------------------------------------------------- printing


def display(value: Any, run: Run) -> str:
    """What ``str`` shows of a value: a string as it is, null as "", anything else as written."""
    if value is None:
        return ""
    if type(value) is str:
        return value
    parts: list[str] = []
    write(value, parts, run)
    return "".join(parts)


def write(value: Any, parts: list[str], run: Run) -> None:
    """Append the readable form of a value, paying for its size as it goes."""
    kind = type(value)
    if kind is str:
        run.charge(len(value) // COPY_RATE)
        parts.append(show(value))
    elif kind is list:
        _write_items(value, "[", "]", parts, run)
    elif kind is tuple:
        _write_items(value, "(", ")", parts, run)
    elif kind is dict:
        run.charge(CONTAINER_COST + len(value))
        parts.append("{")
        for index, (key, item) in enumerate(value.items()):
            parts.append(f"{' ' if index else ''}{show_key(key)} ")
            write(item, parts, run)
        parts.append("}")
    elif kind is AleSet:
        _write_items(list(value.members.values()), "#{", "}", parts, run)
    elif kind in LAZY_TYPES:
        found, tail = proper(value)
        _write_items(found, "(", ")", parts, run)
        if tail is not MISSING:
            parts[-1] = " . "
            write(tail, parts, run)
            parts.append(")")
    else:
        parts.append(show(value))


def _write_items(found: Any, opener: str, closer: str, parts: list[str], run: Run) -> None:
    run.charge(CONTAINER_COST + len(found))
    parts.append(opener)
    for index, item in enumerate(found):
        if index:
            parts.append(" ")
        write(item, parts, run)
    parts.append(closer)
