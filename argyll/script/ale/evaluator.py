"""The Ale evaluator: the nodes compiled code is built from, and calling a function value.

A node is a Python closure ``(env, run) -> value``. Locals were resolved at
compile time to a (frame depth, slot) pair; a frame is a list ``[parent, value,
...]``. Any other symbol is looked up in the run's scope: the bindings the script
names, laid over the builtins (an input may shadow a builtin). ``invoke`` is where
calls pay the budget: one step for a builtin, a lambda's body weight, and one
level of ``MAX_DEPTH`` per lambda call in progress.
"""

from __future__ import annotations

from typing import Any

from argyll.errors import ScriptError, ScriptLimitError
from argyll.script.ale.budget import MAX_DEPTH, Run
from argyll.script.ale.values import Builtin, Env, Keyword, Lambda, Node, get, object_of, show


class Const:
    """A compile-time value, kept apart from nodes so literals can be pre-built."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


Compiled = Node | Const


def node(compiled: Compiled) -> Node:
    if type(compiled) is not Const:
        return compiled
    value = compiled.value
    return lambda env, run: value


def local_node(depth: int, slot: int) -> Node:
    if depth == 0:
        return lambda env, run: env[slot]
    if depth == 1:
        return lambda env, run: env[0][slot]

    def lookup(env: Env, run: Run) -> Any:
        for _ in range(depth):
            env = env[0]
        return env[slot]

    return lookup


def global_node(name: str) -> Node:
    def lookup(env: Env, run: Run) -> Any:
        try:
            return run.scope[name]
        except KeyError:
            raise ScriptError(f"unbound symbol {name!r}") from None

    return lookup


def if_node(test: Node, then: Node, other: Node) -> Node:
    def branch(env: Env, run: Run) -> Any:
        value = test(env, run)
        if value is None or value is False:
            return other(env, run)
        return then(env, run)

    return branch


def cond_node(clauses: list[tuple[Node, Node]]) -> Node:
    def cond(env: Env, run: Run) -> Any:
        for test, then in clauses:
            value = test(env, run)
            if value is not None and value is not False:
                return then(env, run)
        return None

    return cond


def and_node(parts: list[Node]) -> Node:
    def all_of(env: Env, run: Run) -> Any:
        value = True
        for part in parts:
            value = part(env, run)
            if value is None or value is False:
                return value
        return value

    return all_of


def or_node(parts: list[Node]) -> Node:
    def any_of(env: Env, run: Run) -> Any:
        value = None
        for part in parts:
            value = part(env, run)
            if value is not None and value is not False:
                return value
        return value

    return any_of


def let_node(inits: list[Node], body: Node) -> Node:
    def let(env: Env, run: Run) -> Any:
        frame = [env]
        for init in inits:
            frame.append(init(frame, run))
        return body(frame, run)

    return let


def lambda_node(arity: int, body: Node, weight: int) -> Node:
    return lambda env, run: Lambda(arity, body, weight, env)


def sequence_node(nodes: list[Node]) -> Node:
    *effects, last = nodes

    def sequence(env: Env, run: Run) -> Any:
        for effect in effects:
            effect(env, run)
        return last(env, run)

    return sequence


def vector_node(nodes: list[Node]) -> Node:
    return lambda env, run: [item(env, run) for item in nodes]


def object_node(pairs: list[tuple[str, Node]]) -> Node:
    def build(env: Env, run: Run) -> dict[str, Any]:
        result = {}
        for name, value in pairs:
            result[name] = value(env, run)
        return result

    return build


def computed_object_node(pairs: list[tuple[Node, Node]]) -> Node:
    """An object literal whose keys are only known when it runs."""

    def build(env: Env, run: Run) -> dict[str, Any]:
        return object_of([(key(env, run), value(env, run)) for key, value in pairs])

    return build


def call_node(fn: Node, args: list[Node]) -> Node:
    """A function call; one- and two-argument calls (the usual ones) skip building a list."""
    if len(args) == 1:
        (only,) = args
        return lambda env, run: invoke(fn(env, run), run, (only(env, run),))
    if len(args) == 2:
        first, second = args
        return lambda env, run: invoke(fn(env, run), run, (first(env, run), second(env, run)))
    return lambda env, run: invoke(fn(env, run), run, [arg(env, run) for arg in args])


def invoke(fn: Any, run: Run, args: tuple[Any, ...] | list[Any]) -> Any:
    """Call an Ale function value: one step for a builtin, a lambda's body weight."""
    kind = type(fn)
    if kind is Builtin:
        run.left -= 1
        if run.left < 0:
            raise ScriptLimitError("steps", run.budget)
        try:
            return fn.fn(run, *args)
        except TypeError:
            raise ScriptError(f"{fn.name}: wrong number or type of arguments") from None
        except (ValueError, ArithmeticError) as exc:
            raise ScriptError(f"{fn.name}: {exc}") from None
    if kind is Lambda:
        if len(args) != fn.arity:
            raise ScriptError(f"lambda takes {fn.arity} argument(s), got {len(args)}")
        run.charge(fn.weight)
        run.depth += 1
        if run.depth > MAX_DEPTH:
            raise ScriptLimitError("depth", MAX_DEPTH)
        result = fn.body([fn.env, *args], run)
        run.depth -= 1
        return result
    if kind is Keyword:  # (:key object default?) is (get object :key default?)
        if not 1 <= len(args) <= 2:
            raise ScriptError(f"{show(fn)}: expected (:key object default?)")
        run.charge(1)
        return get(args[0], fn, *args[1:])
    raise ScriptError(f"{show(fn)} is not a function")
