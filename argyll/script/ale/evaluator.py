"""The Ale evaluator: the nodes compiled code is built from, and calling a function value.

A node is a Python closure ``(env, run) -> value``. Locals were resolved at
compile time to a (frame depth, slot) pair; a frame is a list ``[parent, value,
...]``. A frame of ``define``/``let-rec`` names starts with every slot ``UNSET``, so
functions in it can refer to each other; reading a slot still unset is an error.
Any other symbol is looked up in the run's scope: the bindings the script names,
laid over the builtins (an input may shadow a builtin). ``invoke`` is where calls
pay the budget: one step for a builtin, a lambda's body weight, and one level of
``MAX_DEPTH`` per lambda call in progress. Data can be called too, as in Ale:
``(:key object)``, ``(object key)``, ``(vector index)``, ``(set value)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from argyll.errors import ScriptError, ScriptLimitError
from argyll.script.ale.budget import MAX_DEPTH, Run
from argyll.script.ale.excluded import EXCLUDED
from argyll.script.ale.seqs import Lazy, Stream, equal, items, realize, stream
from argyll.script.ale.values import (
    MISSING,
    AleRaised,
    AleSet,
    Builtin,
    Cases,
    Cons,
    Env,
    Keyword,
    Lambda,
    Node,
    get,
    make_list,
    object_of,
    set_of,
    show,
    truthy,
)

FAST_CALLS: dict[str, tuple[Builtin, Callable[[Any, Any], Any]]] = {}
"""Builtins with a two-argument fast path, by name; the library fills it in as it loads."""

UNSET: Any = object()
"""A ``define``/``let-rec`` slot whose value is not computed yet."""


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


def checked_local_node(depth: int, slot: int, name: str) -> Node:
    """A ``define``/``let-rec`` name: an error if read before its value exists."""
    plain = local_node(depth, slot)

    def lookup(env: Env, run: Run) -> Any:
        value = plain(env, run)
        if value is UNSET:
            raise ScriptError(f"{name} is used before its value is defined")
        return value

    return lookup


def unbound_message(name: str) -> str:
    reason = EXCLUDED.get(name)
    if reason is None:
        return f"unbound symbol {name!r}"
    return f"{name!r} is not available in Argyll's Ale: {reason}"


def global_node(name: str) -> Node:
    def lookup(env: Env, run: Run) -> Any:
        try:
            return run.scope[name]
        except KeyError:
            raise ScriptError(unbound_message(name)) from None

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
    """Sequential bindings (``let*``): each init runs in the frame being built."""

    def let(env: Env, run: Run) -> Any:
        frame = [env]
        for init in inits:
            frame.append(init(frame, run))
        return body(frame, run)

    return let


def parallel_let_node(inits: list[Node], body: Node) -> Node:
    """Parallel bindings (``let``): every init runs before any name is bound."""

    def let(env: Env, run: Run) -> Any:
        frame = [env]
        frame.extend([init(frame, run) for init in inits])
        return body(frame, run)

    return let


def recursive_frame_node(size: int, body: Node) -> Node:
    """A frame of ``size`` names all bound (as UNSET) before ``body`` runs and sets them."""

    def frame(env: Env, run: Run) -> Any:
        return body([env, *([UNSET] * size)], run)

    return frame


def assign_node(slot: int, value: Node) -> Node:
    """Set a slot of the innermost frame (``define``), giving the value."""

    def assign(env: Env, run: Run) -> Any:
        result = value(env, run)
        env[slot] = result  # type: ignore[index]
        return result

    return assign


def lambda_node(arity: int, body: Node, weight: int, rest: bool = False, name: str = "") -> Node:
    return lambda env, run: Lambda(arity, body, weight, env, rest, name)


def cases_node(cases: list[Node]) -> Node:
    return lambda env, run: Cases(tuple(case(env, run) for case in cases))


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


def set_node(nodes: list[Node]) -> Node:
    return lambda env, run: set_of([item(env, run) for item in nodes])


def cons_node(first: Node, rest: Node) -> Node:
    return lambda env, run: Cons(first(env, run), rest(env, run))


def not_node(inner: Node) -> Node:
    return lambda env, run: not truthy(inner(env, run))


def get_node(coll: Node, key: Node) -> Node:
    return lambda env, run: get(coll(env, run), key(env, run))


ThreadStep = tuple[Node | None, Node]


def thread_node(start: Node, steps: list[ThreadStep], stop_on_null: bool) -> Node:
    """Thread a value through steps run in a one-slot frame holding it (``some->``,
    ``cond->``, ``let->``); a step with a test runs only when the test is true."""

    def thread(env: Env, run: Run) -> Any:
        value = start(env, run)
        for test, step in steps:
            if stop_on_null and value is None:
                return None
            frame = [env, value]
            if test is None or truthy(test(frame, run)):
                value = step(frame, run)
        return value

    return thread


def case_node(value: Node, clauses: list[tuple[list[Node], Node]]) -> Node:
    def case(env: Env, run: Run) -> Any:
        subject = value(env, run)
        for tests, expr in clauses:
            if any(equal(subject, test(env, run), run, strict=True) for test in tests):
                return expr(env, run)
        raise ScriptError(f"case: no clause matches {show(subject)}")

    return case


def try_node(body: Node, catches: list[tuple[Node, Node]], cleanup: Node | None) -> Node:
    """Run ``body``; a raised value (never a limit) goes to the first catch whose test is true."""

    def attempt(env: Env, run: Run) -> Any:
        depth = run.depth
        try:
            return body(env, run)
        except ScriptLimitError:
            raise
        except ScriptError as error:
            run.depth = depth
            raised = error.value if type(error) is AleRaised else str(error)
            for test, handler in catches:
                frame = [env, raised]
                if truthy(test(frame, run)):
                    return handler(frame, run)
            raise
        finally:
            if cleanup is not None:
                cleanup(env, run)

    return attempt


def lazy_node(body: Node) -> Node:
    return lambda env, run: Lazy(lambda: body(env, run))


def comprehension_node(source: Node, fn: Node, flat: bool) -> Node:
    """``for``: call ``fn`` on each item of ``source``, lazily; ``flat`` joins the results."""

    def generate(function: Any, values: Any, run: Run) -> Any:
        for value in items(values):
            result = invoke(function, run, (value,))
            if flat:
                yield from items(result)
            else:
                yield result

    return lambda env, run: stream(generate(fn(env, run), source(env, run), run), run)


def last_node(inner: Node) -> Node:
    def last(env: Env, run: Run) -> Any:
        found = realize(inner(env, run), run)
        return found[-1] if found else None

    return last


def call_node(fn: Node, args: list[Node]) -> Node:
    """A function call; one- and two-argument calls (the usual ones) skip building a list."""
    if len(args) == 1:
        (only,) = args
        return lambda env, run: invoke(fn(env, run), run, (only(env, run),))
    if len(args) == 2:
        first, second = args
        return lambda env, run: invoke(fn(env, run), run, (first(env, run), second(env, run)))
    return lambda env, run: invoke(fn(env, run), run, [arg(env, run) for arg in args])


def global_call_node(name: str, args: list[Node]) -> Node:
    """A call of a global name (usually a builtin): the common case, so it skips a lookup
    closure and ``invoke``'s dispatch when the name is a builtin."""
    many = [*args]

    def call(env: Env, run: Run) -> Any:
        fn = run.scope.get(name, MISSING)
        values = [arg(env, run) for arg in many]
        if type(fn) is Builtin:
            run.left -= 1
            if run.left < 0:
                raise ScriptLimitError("steps", run.budget)
            try:
                return fn.fn(run, *values)
            except TypeError:
                raise ScriptError(f"{fn.name}: wrong number or type of arguments") from None
            except (ValueError, ArithmeticError) as exc:
                raise ScriptError(f"{fn.name}: {exc}") from None
        if fn is MISSING:
            raise ScriptError(unbound_message(name))
        return invoke(fn, run, values)

    if len(args) == 1:
        return _global_call1(name, args[0])
    if len(args) != 2:
        return call
    first, second = args

    def call2(env: Env, run: Run) -> Any:
        fn = run.scope.get(name, MISSING)
        a, b = first(env, run), second(env, run)
        if type(fn) is Builtin:
            run.left -= 1
            if run.left < 0:
                raise ScriptLimitError("steps", run.budget)
            try:
                return fn.fn(run, a, b)
            except TypeError:
                raise ScriptError(f"{fn.name}: wrong number or type of arguments") from None
            except (ValueError, ArithmeticError) as exc:
                raise ScriptError(f"{fn.name}: {exc}") from None
        if fn is MISSING:
            raise ScriptError(unbound_message(name))
        return invoke(fn, run, (a, b))

    return call2


def _global_call1(name: str, only: Node) -> Node:
    def call1(env: Env, run: Run) -> Any:
        fn = run.scope.get(name, MISSING)
        value = only(env, run)
        if type(fn) is Builtin:
            run.left -= 1
            if run.left < 0:
                raise ScriptLimitError("steps", run.budget)
            try:
                return fn.fn(run, value)
            except TypeError:
                raise ScriptError(f"{fn.name}: wrong number or type of arguments") from None
            except (ValueError, ArithmeticError) as exc:
                raise ScriptError(f"{fn.name}: {exc}") from None
        if fn is MISSING:
            raise ScriptError(unbound_message(name))
        return invoke(fn, run, (value,))

    return call1


def fast_call_node(
    builtin: Builtin, fast: Callable[[Any, Any], Any], first: Compiled, second: Compiled
) -> Node:
    """A two-argument call of a builtin with a fast path (``>``, ``eq``, ``+`` ...), for a
    program none of whose inputs shadows a builtin: ``fast`` answers for the usual
    argument types and gives MISSING for the rest, which the builtin itself handles."""
    left = node(first)

    def slow(run: Run, a: Any, b: Any) -> Any:
        run.left += 1  # the full call pays it again
        return invoke(builtin, run, (a, b))

    if type(second) is Const:
        constant = second.value

        def call_constant(env: Env, run: Run) -> Any:
            a = left(env, run)
            run.left -= 1
            if run.left < 0:
                raise ScriptLimitError("steps", run.budget)
            result = fast(a, constant)
            return slow(run, a, constant) if result is MISSING else result

        return call_constant
    right = node(second)

    def call(env: Env, run: Run) -> Any:
        a, b = left(env, run), right(env, run)
        run.left -= 1
        if run.left < 0:
            raise ScriptLimitError("steps", run.budget)
        result = fast(a, b)
        return slow(run, a, b) if result is MISSING else result

    return call


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
        if len(args) != fn.arity and not (fn.rest and len(args) >= fn.arity):
            expected = f"{fn.arity}{' or more' if fn.rest else ''}"
            raise ScriptError(
                f"{fn.name or 'lambda'} takes {expected} argument(s), got {len(args)}"
            )
        return _call(fn, run, args)
    if kind is Cases:
        for case in fn.cases:
            if len(args) == case.arity or (case.rest and len(args) >= case.arity):
                return _call(case, run, args)
        raise ScriptError(f"no case of the function takes {len(args)} argument(s)")
    return _call_data(fn, run, args)


def _call(fn: Lambda, run: Run, args: tuple[Any, ...] | list[Any]) -> Any:
    run.charge(fn.weight)
    run.depth += 1
    if run.depth > MAX_DEPTH:
        raise ScriptLimitError("depth", MAX_DEPTH)
    rest = make_list(args[fn.arity :]) if fn.rest else MISSING
    frame = [fn.env, *args] if rest is MISSING else [fn.env, *args[: fn.arity], rest]
    result = fn.body(frame, run)
    run.depth -= 1
    return result


def _call_data(fn: Any, run: Run, args: tuple[Any, ...] | list[Any]) -> Any:
    """Ale's callable data: a keyword, object or set looks itself up, a sequence indexes."""
    kind = type(fn)
    if not 1 <= len(args) <= 2 or kind is str:
        raise ScriptError(f"{show(fn)} is not a function")
    run.charge(1)
    if kind is Keyword:  # (:key object default?): null when missing, as in Ale
        return get(args[0], fn, args[1] if len(args) == 2 else None)
    if kind is dict:
        return get(fn, *args)
    if kind is AleSet:
        return get(fn, args[0], *args[1:]) if len(args) == 2 else get(fn, args[0], None)
    if kind is bool:
        return fn
    if kind is int and len(args) == 1:
        return nth_of(args[0], fn, MISSING, run)
    if kind in (list, tuple, Stream) or fn is None:
        return nth_of(fn, args[0], args[1] if len(args) == 2 else MISSING, run)
    raise ScriptError(f"{show(fn)} is not a function")


def nth_of(coll: Any, index: Any, default: Any, run: Run) -> Any:
    if type(index) is not int:
        raise ScriptError(f"an index must be an integer, not {show(index)}")
    if type(coll) in (list, tuple):
        found = coll[index] if 0 <= index < len(coll) else MISSING
    elif type(coll) is Stream:
        found = coll.item(index) if index >= 0 else MISSING
    else:
        found = next((item for at, item in enumerate(items(coll)) if at == index), MISSING)
        run.charge(max(index, 0))
    if found is not MISSING:
        return found
    if default is MISSING:
        raise ScriptError(f"index {index} out of bounds")
    return default
