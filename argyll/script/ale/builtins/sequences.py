"""Sequence functions: building, reading and transforming vectors, lists and lazy sequences.

As in Ale, ``map``, ``filter``, ``concat``, ``take``, ``drop``, ``take-while``,
``partition``, ``range``, ``zip`` and ``mapcat`` are lazy: they give a sequence whose
items are computed when needed (and paid for then, one step each), so
``(take 3 (range))`` works on the infinite ``(range)``. The ``!`` forms and the
``seq->…`` conversions realize a sequence at once.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from typing import Any

from argyll.errors import ScriptError
from argyll.script.ale.budget import Run
from argyll.script.ale.builtins.registry import (
    builtin,
    copied,
    integer,
    numbers,
    pair_of,
    sequence,
)
from argyll.script.ale.evaluator import invoke, nth_of
from argyll.script.ale.seqs import (
    LAZY_TYPES,
    Stream,
    equal,
    first,
    is_empty,
    items,
    realize,
    rest,
    stream,
)
from argyll.script.ale.values import (
    MISSING,
    AleSet,
    Cons,
    make_list,
    object_of,
    set_of,
    truthy,
    type_name,
)


@builtin("list")
def _list(run: Run, *values: Any) -> Any:
    return make_list(values)


@builtin("vector")
def _vector(run: Run, *values: Any) -> list[Any]:
    return list(values)


@builtin("cons")
def _cons(run: Run, value: Any, coll: Any) -> Any:
    """In front of a list or vector (a copy); a pair before anything else, lazily."""
    kind = type(coll)
    if coll is None:
        return (value,)
    if kind is tuple:
        return copied(run, (value, *coll))
    if kind is list:
        return copied(run, [value, *coll])
    return Cons(value, coll)


@builtin("car", "first")
def _first(run: Run, coll: Any) -> Any:
    return first(sequence("first", coll))


@builtin("cdr", "rest")
def _rest(run: Run, coll: Any) -> Any:
    return rest(sequence("rest", coll), run)


def _accessor(path: str) -> Any:
    """``cadr`` and kin: the letters between c and r, applied right to left."""

    def access(run: Run, coll: Any) -> Any:
        for letter in reversed(path):
            coll = first(coll) if letter == "a" else rest(coll, run)
        return coll

    return access


for _size in (2, 3, 4):
    for _letters in itertools.product("ad", repeat=_size):
        _path = "".join(_letters)
        builtin(f"c{_path}r")(_accessor(_path))


@builtin("append")
def _append(run: Run, coll: Any, value: Any) -> list[Any]:
    if type(coll) is not list:
        raise ScriptError(f"append: expected a vector, got {type_name(coll)}")
    return copied(run, [*coll, value])


@builtin("conj")
def _conj(run: Run, coll: Any, *values: Any) -> Any:
    """Onto the end of a vector, the front of a list, into a set or an object (pairs)."""
    kind = type(coll)
    if kind is list:
        return copied(run, [*coll, *values])
    if kind is AleSet:
        return copied(run, AleSet({**coll.members, **set_of(values).members}))
    if kind is dict:
        return copied(run, {**coll, **object_of(pair_of(value) for value in values)})
    for value in values:
        coll = _cons(run, value, coll)
    return coll


@builtin("concat")
def _concat(run: Run, *colls: Any) -> Stream:
    return stream(itertools.chain.from_iterable(items(sequence("concat", c)) for c in colls), run)


@builtin("concat!", "seq->list")
def _to_list(run: Run, *colls: Any) -> Any:
    return make_list(_concat_now(run, colls))


@builtin("seq->vector")
def _to_vector(run: Run, *colls: Any) -> list[Any]:
    return _concat_now(run, colls)


@builtin("seq->set")
def _to_set(run: Run, *colls: Any) -> AleSet:
    return set_of(_concat_now(run, colls))


@builtin("seq->object")
def _to_object(run: Run, *colls: Any) -> dict[Any, Any]:
    """From pairs, or from keys and values in turn."""
    found = _concat_now(run, colls)
    if all(type(item) is Cons for item in found):
        return object_of(pair_of(item) for item in found)
    if len(found) % 2:
        raise ScriptError("seq->object: needs a value for every key")
    return object_of(zip(found[::2], found[1::2], strict=True))


def _concat_now(run: Run, colls: tuple[Any, ...]) -> list[Any]:
    found: list[Any] = []
    for coll in colls:
        found.extend(realize(sequence("seq->vector", coll), run))
    return copied(run, found)


@builtin("take")
def _take(run: Run, count: Any, coll: Any) -> Stream:
    limit = max(integer("take", count), 0)
    return stream(itertools.islice(items(sequence("take", coll)), limit), run)


@builtin("drop")
def _drop(run: Run, count: Any, coll: Any) -> Stream:
    skip = max(integer("drop", count), 0)
    return stream(itertools.islice(items(sequence("drop", coll)), skip, None), run)


@builtin("take-while")
def _take_while(run: Run, pred: Any, coll: Any) -> Stream:
    found = items(sequence("take-while", coll))
    return stream(itertools.takewhile(lambda item: truthy(invoke(pred, run, (item,))), found), run)


@builtin("partition")
def _partition(run: Run, count: Any, *args: Any) -> Stream:
    """``(partition count step? seq)``: lists of ``count`` items, ``step`` apart
    (the last may be short)."""
    if len(args) not in (1, 2):
        raise ScriptError("partition: expected (partition count step? seq)")
    size = integer("partition", count)
    step = integer("partition", args[0]) if len(args) == 2 else size
    if size <= 0 or step <= 0:
        raise ScriptError("partition: count and step must be positive")
    source = stream(items(sequence("partition", args[-1])), run)

    def groups() -> Iterator[Any]:
        for start in itertools.count(0, step):
            group = []
            for index in range(start, start + size):
                item = source.item(index)
                if item is MISSING:
                    break
                group.append(item)
            if not group:
                return
            yield make_list(group)

    return stream(groups(), run)


@builtin("range")
def _range(run: Run, *bounds: Any) -> Stream:
    """``(range)``, ``(range max)``, ``(range min max)`` or ``(range min max step)``;
    a null or infinite ``max`` never ends (the budget does)."""
    if len(bounds) > 3:
        raise ScriptError("range: expected (range min? max? step?)")
    low, high, step = (0, math.inf, 1) if not bounds else (0, bounds[0], 1)
    if len(bounds) >= 2:
        low, high = bounds[0], bounds[1]
    if len(bounds) == 3:
        step = bounds[2]
    high = math.inf if high is None else high
    numbers("range", (low, high, step))
    if step == 0:
        raise ScriptError("range: step cannot be 0")

    def count() -> Iterator[Any]:
        value = low
        while value < high if step > 0 else value > high:
            yield value
            value += step

    return stream(count(), run)


@builtin("map")
def _map(run: Run, fn: Any, first_coll: Any, *more: Any) -> Stream:
    """Call ``fn`` on the items of each sequence in turn, stopping at the shortest."""
    if not more:
        found = items(sequence("map", first_coll))
        return stream((invoke(fn, run, (item,)) for item in found), run)
    rows = zip(*(items(sequence("map", coll)) for coll in (first_coll, *more)), strict=False)
    return stream((invoke(fn, run, row) for row in rows), run)


@builtin("map!")
def _map_now(run: Run, fn: Any, *colls: Any) -> Any:
    return make_list(realize(_map(run, fn, *colls), run))


@builtin("filter")
def _filter(run: Run, fn: Any, coll: Any) -> Stream:
    found = items(sequence("filter", coll))
    return stream((item for item in found if truthy(invoke(fn, run, (item,)))), run)


@builtin("zip")
def _zip(run: Run, *colls: Any) -> Stream:
    rows = zip(*(items(sequence("zip", coll)) for coll in colls), strict=False)
    return stream((make_list(row) for row in rows), run)


@builtin("mapcat")
def _mapcat(run: Run, fn: Any, *colls: Any) -> Stream:
    mapped = _map(run, fn, *colls)
    return stream(itertools.chain.from_iterable(items(result) for result in items(mapped)), run)


@builtin("cartesian-product")
def _cartesian(run: Run, *colls: Any) -> Stream:
    pools = [realize(sequence("cartesian-product", coll), run) for coll in colls]
    return stream((make_list(row) for row in itertools.product(*pools)), run)


@builtin("reduce", "fold-left", "foldl")
def _fold_left(run: Run, fn: Any, *args: Any) -> Any:
    """``(fold-left f init seq)``, or ``(fold-left f seq)`` starting from the first item."""
    if len(args) == 2:
        total, found = args[0], items(sequence("fold-left", args[1]))
    elif len(args) == 1:
        found = items(sequence("fold-left", args[0]))
        total = next(found, MISSING)
        if total is MISSING:
            return invoke(fn, run, ())
    else:
        raise ScriptError("fold-left: expected (fold-left f init? seq)")
    for item in found:
        total = invoke(fn, run, (total, item))
    return total


@builtin("fold-right", "foldr", "fold-right!")
def _fold_right(run: Run, fn: Any, *args: Any) -> Any:
    """From the right: ``(fold-right f init [a b])`` is ``(f a (f b init))``."""
    if len(args) not in (1, 2):
        raise ScriptError("fold-right: expected (fold-right f init? seq)")
    found = list(reversed(realize(sequence("fold-right", args[-1]), run)))
    if len(args) == 2:
        total = args[0]
    elif found:
        total = found.pop(0)
    else:
        return invoke(fn, run, ())
    for item in found:
        total = invoke(fn, run, (item, total))
    return total


@builtin("reverse", "reverse!")
def _reverse(run: Run, coll: Any) -> Any:
    kind = type(sequence("reverse", coll))
    if kind is list or kind is str:
        return copied(run, coll[::-1])
    return make_list(realize(coll, run)[::-1])


@builtin("length", "length!")
def _length(run: Run, coll: Any) -> int:
    kind = type(sequence("length", coll))
    if kind in LAZY_TYPES:
        return len(realize(coll, run))
    return 0 if coll is None else len(coll)


@builtin("last", "last!")
def _last(run: Run, coll: Any) -> Any:
    found = realize(sequence("last", coll), run)
    return found[-1] if len(found) else None


@builtin("nth", "nth!")
def _nth(run: Run, coll: Any, index: Any, default: Any = MISSING) -> Any:
    return nth_of(sequence("nth", coll), integer("nth", index), default, run)


@builtin("index-of")
def _index_of(run: Run, coll: Any, value: Any) -> Any:
    for index, item in enumerate(items(sequence("index-of", coll))):
        run.charge(1)
        if equal(item, value, run, strict=True):
            return index
    return False


@builtin("seq")
def _seq(run: Run, value: Any) -> Any:
    """The value if it is a non-empty sequence (or string), else null."""
    if (type(value) is str or type(value) in (list, tuple, dict, AleSet, *LAZY_TYPES)) and (
        not is_empty(value)
    ):
        return value
    return None


@builtin("seq!")
def _seq_strict(run: Run, value: Any) -> Any:
    return _seq(run, sequence("seq!", value)) or False
