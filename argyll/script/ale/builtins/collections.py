"""Objects and sets: building them, reading by key, and copies with keys set or removed.

``assoc`` takes Ale's ``(key . value)`` pairs, ``(assoc robert (:age . 46))``, and also
keys and values in turn, ``(assoc robert :age 46)``; a vector can have an index set.
"""

from __future__ import annotations

from typing import Any

from argyll.errors import ScriptError
from argyll.script.ale.budget import COPY_RATE, Run
from argyll.script.ale.builtins.registry import builtin, copied, integer, pair_of
from argyll.script.ale.seqs import equal, items
from argyll.script.ale.values import (
    MISSING,
    AleSet,
    Cons,
    frozen,
    get,
    key_name,
    object_of,
    set_of,
    type_name,
)


@builtin("object")
def _object(run: Run, *pairs: Any) -> dict[Any, Any]:
    if pairs and all(type(pair) is Cons for pair in pairs):
        return object_of(pair_of(pair) for pair in pairs)
    if len(pairs) % 2:
        raise ScriptError("object: needs a value for every key")
    return object_of(zip(pairs[::2], pairs[1::2], strict=True))


@builtin("set")
def _set(run: Run, *values: Any) -> AleSet:
    return copied(run, set_of(values))


@builtin("get")
def _get(run: Run, coll: Any, key: Any, default: Any = MISSING) -> Any:
    return get(coll, key, default)


@builtin("contains?")
def _contains(run: Run, coll: Any, item: Any) -> bool:
    """A key of an object, a member of a set, an item of a sequence, a part of a string."""
    kind = type(coll)
    if kind is dict:
        return key_name(item) in coll
    if kind is AleSet:
        return frozen(item) in coll.members
    if kind is str and type(item) is str:
        run.charge(len(coll) // COPY_RATE)
        return item in coll
    if kind is str:
        return False
    for element in items(coll):
        run.charge(1)
        if equal(element, item, run):
            return True
    return False


def _assignments(name: str, args: tuple[Any, ...]) -> list[tuple[Any, Any]]:
    """Pairs given as ``(k . v)`` / ``[k v]`` each, or as keys and values in turn."""
    if len(args) == 1 or (args and all(type(arg) is Cons for arg in args)):
        return [pair_of(arg) for arg in args]
    if not args or len(args) % 2:
        raise ScriptError(f"{name}: needs pairs, or keys and values")
    return list(zip(args[::2], args[1::2], strict=True))


@builtin("assoc", "assoc*")
def _assoc(run: Run, coll: Any, *args: Any) -> Any:
    """A copy of an object (or null) with keys set, or of a vector with indexes set."""
    pairs = _assignments("assoc", args)
    if type(coll) is list:
        result = list(coll)
        for index, value in pairs:
            if not 0 <= integer("assoc", index) <= len(result):
                raise ScriptError(f"assoc: index {index} out of range")
            result[index : index + 1] = [value]
        return copied(run, result)
    if coll is not None and type(coll) is not dict:
        raise ScriptError(f"assoc: expected an object or vector, got {type_name(coll)}")
    return copied(run, {**(coll or {}), **object_of(pairs)})


@builtin("dissoc", "dissoc*")
def _dissoc(run: Run, coll: Any, *keys: Any) -> Any:
    if type(coll) is AleSet:
        gone = {frozen(key) for key in keys}
        return copied(run, AleSet({k: v for k, v in coll.members.items() if k not in gone}))
    if type(coll) is not dict:
        raise ScriptError(f"dissoc: expected an object, got {type_name(coll)}")
    names = {key_name(key) for key in keys}
    return copied(run, {key: value for key, value in coll.items() if key not in names})
