"""Ale, the small Lisp of step scripts and predicates (see ALE.md).

``compile_ale`` reads the source once into forms and compiles them into a tree of
Python closures; ``AleProgram.run`` evaluates that tree against JSON-like bindings.

Values: null, booleans, numbers and strings are Python's own; keywords and quoted
symbols are small frozen classes; vectors are ``list``, lists are ``tuple`` and
objects are ``dict`` keyed by plain ``str`` (``:k`` and ``"k"`` name the same key).
Nothing mutates a value once built, so literal constants are built once at compile
time and shared by every run.

Locals are resolved at compile time to a (frame depth, slot) pair; a frame is a list
``[parent, value, ...]``. Any other symbol is looked up in the run's scope: the
bindings the script names, laid over the builtins (an input may shadow a builtin).

Safety: the budget counts evaluation steps without a counter in every node. Ale has
no loops, so one run of a body evaluates each of its nodes at most once: a run pays the
node count ("weight") of the script up front, a lambda call pays its body's weight,
and a builtin call pays one step. Builtins that walk data item by item (``=``,
``contains?``, printing, the result's conversion) pay per item; those that only copy
pay one step per ``_COPY_RATE`` items or characters. Lambda calls count toward
``MAX_DEPTH``, reading caps bracket nesting at ``MAX_DEPTH``, and a ``RecursionError``
that slips through anyway is reported as the depth limit.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import reduce
from itertools import islice
from typing import Any, TypeVar

from argyll.errors import ScriptError, ScriptLimitError, ScriptSyntaxError

DEFAULT_BUDGET: int = 1_000_000
"""Evaluation steps per run; the costliest runaway found spends about 0.15 s on them."""
MAX_DEPTH: int = 100
"""Lambda call depth and bracket nesting: a few Python frames each, far below the 1000 limit."""

_COPY_RATE = 8
"""Elements (or characters) a builtin may copy per budget step."""
_SCAN_RATE = 1024
"""Characters two strings may be compared over per budget step."""
_CONTAINER_COST = 8
"""Steps to enter a vector, list or object when walking data item by item (~1 µs)."""
_INT_LIMIT = 2**63
"""Integer results must fit in 64 bits (as in Clojure): repeated squaring cannot eat memory."""
_MISSING: Any = object()


# ---------------------------------------------------------------- values and forms


@dataclass(frozen=True, slots=True)
class _Keyword:
    name: str


@dataclass(frozen=True, slots=True)
class _Symbol:
    """A name in the source; as a value, only from ``quote``."""

    name: str


@dataclass(frozen=True, slots=True)
class _Seq:
    """A bracketed form as read: ``opener`` is "(", "[" or "{"; ``pos`` is its offset."""

    opener: str
    items: tuple[Any, ...]
    pos: int


class _Run:
    """The mutable state of one run: steps left, lambda call depth, global scope."""

    __slots__ = ("budget", "depth", "left", "scope")

    def __init__(self, budget: int, scope: dict[str, Any]) -> None:
        self.budget = budget
        self.left = budget
        self.depth = 0
        self.scope = scope

    def charge(self, steps: int) -> None:
        self.left -= steps
        if self.left < 0:
            raise ScriptLimitError("steps", self.budget)


Env = list[Any] | None
Node = Callable[[Env, _Run], Any]


class _Lambda:
    """A closure made by ``lambda``/``fn``: its compiled body and the frame it captured."""

    __slots__ = ("arity", "body", "env", "weight")

    def __init__(self, arity: int, body: Node, weight: int, env: Env) -> None:
        self.arity, self.body, self.weight, self.env = arity, body, weight, env


class _Builtin:
    __slots__ = ("fn", "name")

    def __init__(self, name: str, fn: Callable[..., Any]) -> None:
        self.name, self.fn = name, fn


_NUMBER_TYPES = (int, float)
_SEQ_TYPES = (list, tuple)
_JSON_SCALARS = (str, int, float, bool, type(None))
_TYPE_NAMES: dict[type, str] = {
    type(None): "null",
    bool: "boolean",
    int: "integer",
    float: "float",
    str: "string",
    _Keyword: "keyword",
    _Symbol: "symbol",
    list: "vector",
    tuple: "list",
    dict: "object",
    _Lambda: "function",
    _Builtin: "function",
}


def _type_name(value: Any) -> str:
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def _key_name(key: Any) -> str | None:
    """The object key a keyword or string stands for; None for anything else."""
    if type(key) is _Keyword:
        return key.name
    return key if type(key) is str else None


def _truthy(value: Any) -> bool:
    return value is not None and value is not False


# ---------------------------------------------------------------- reader


class _SyntaxAt(Exception):
    """A compile error at a source offset; compile_ale turns it into ScriptSyntaxError."""

    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.message, self.pos = message, pos


@dataclass(frozen=True, slots=True)
class _QuoteMark:
    """A ``'`` waiting for the datum it quotes."""

    pos: int


_TOKEN = re.compile(
    r"""(?P<space>(?:[\s,]|;[^\n]*)+)
      | (?P<open>[(\[{])
      | (?P<close>[)\]}])
      | (?P<quote>')
      | (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<unterminated>")
      | (?P<atom>[^\s,;()\[\]{}"'][^\s,;()\[\]{}"]*)""",
    re.VERBOSE | re.DOTALL,
)
_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r"}
_LITERALS: dict[str, Any] = {"true": True, "false": False, "null": None, "nil": None}
_CLOSERS = {"(": ")", "[": "]", "{": "}"}


def _read(source: str) -> list[Any]:
    """Read every top-level form. Iterative, so deep nesting cannot exhaust the stack."""
    stack: list[tuple[str, int, list[Any]]] = []
    items: list[Any] = []
    pos = 0
    while pos < len(source):
        match = _TOKEN.match(source, pos)
        assert match is not None  # the alternatives cover every character
        kind, text = match.lastgroup, match.group()
        if kind == "open":
            if len(stack) >= MAX_DEPTH:
                raise _SyntaxAt(f"nested deeper than {MAX_DEPTH} levels", pos)
            stack.append((text, pos, items))
            items = []
        elif kind == "close":
            items = _close(stack, items, text, pos)
        elif kind == "quote":
            items.append(_QuoteMark(pos))
        elif kind == "string":
            _push(items, _unescape(text, pos))
        elif kind == "atom":
            _push(items, _atom(text, pos))
        elif kind == "unterminated":
            raise _SyntaxAt("unterminated string", pos)
        pos = match.end()
    if stack:
        opener, start, _ = stack[-1]
        raise _SyntaxAt(f"'{opener}' is never closed", start)
    _check_dangling(items)
    if not items:
        raise _SyntaxAt("empty script", 0)
    return items


def _close(
    stack: list[tuple[str, int, list[Any]]], items: list[Any], closer: str, pos: int
) -> list[Any]:
    """Finish the innermost bracketed form and return the item list it belongs to."""
    if not stack:
        raise _SyntaxAt(f"unexpected '{closer}'", pos)
    opener, start, parent = stack.pop()
    if _CLOSERS[opener] != closer:
        raise _SyntaxAt(f"'{closer}' does not close '{opener}'", pos)
    _check_dangling(items)
    if opener == "{" and len(items) % 2:
        raise _SyntaxAt("object literal needs an even number of forms", start)
    _push(parent, _Seq(opener, tuple(items), start))
    return parent


def _push(items: list[Any], datum: Any) -> None:
    """Append a datum, first wrapping it in (quote ...) for each ``'`` before it."""
    while items and type(items[-1]) is _QuoteMark:
        datum = _Seq("(", (_Symbol("quote"), datum), items.pop().pos)
    items.append(datum)


def _check_dangling(items: list[Any]) -> None:
    if items and type(items[-1]) is _QuoteMark:
        raise _SyntaxAt("nothing to quote after '", items[-1].pos)


def _unescape(text: str, pos: int) -> str:
    body = text[1:-1]
    if "\\" not in body:
        return body

    def replace(match: re.Match[str]) -> str:
        char = _ESCAPES.get(match.group(1))
        if char is None:
            raise _SyntaxAt(f"bad escape \\{match.group(1)} in string", pos + 1 + match.start())
        return char

    return _ESCAPE.sub(replace, body)


def _atom(text: str, pos: int) -> Any:
    if text in _LITERALS:
        return _LITERALS[text]
    try:
        if _INT.fullmatch(text):
            return int(text)
        if _FLOAT.fullmatch(text):
            return float(text)
    except ValueError:
        raise _SyntaxAt(f"number {text[:20]}... is too long", pos) from None
    if text.startswith(":"):
        if len(text) == 1:
            raise _SyntaxAt("keyword without a name", pos)
        return _Keyword(text[1:])
    return _Symbol(text)


def _position(source: str, pos: int) -> tuple[int, int]:
    """1-based line and column of a source offset."""
    line = source.count("\n", 0, pos) + 1
    return line, pos - source.rfind("\n", 0, pos)


# ---------------------------------------------------------------- nodes


class _Const:
    """A compile-time value, kept apart from nodes so literals can be pre-built."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


Compiled = Node | _Const


def _node(compiled: Compiled) -> Node:
    if type(compiled) is not _Const:
        return compiled
    value = compiled.value
    return lambda env, run: value


def _local_node(depth: int, slot: int) -> Node:
    if depth == 0:
        return lambda env, run: env[slot]
    if depth == 1:
        return lambda env, run: env[0][slot]

    def lookup(env: Env, run: _Run) -> Any:
        for _ in range(depth):
            env = env[0]
        return env[slot]

    return lookup


def _global_node(name: str) -> Node:
    def lookup(env: Env, run: _Run) -> Any:
        try:
            return run.scope[name]
        except KeyError:
            raise ScriptError(f"unbound symbol {name!r}") from None

    return lookup


def _if_node(test: Node, then: Node, other: Node) -> Node:
    def branch(env: Env, run: _Run) -> Any:
        value = test(env, run)
        if value is None or value is False:
            return other(env, run)
        return then(env, run)

    return branch


def _cond_node(clauses: list[tuple[Node, Node]]) -> Node:
    def cond(env: Env, run: _Run) -> Any:
        for test, then in clauses:
            value = test(env, run)
            if value is not None and value is not False:
                return then(env, run)
        return None

    return cond


def _and_node(parts: list[Node]) -> Node:
    def all_of(env: Env, run: _Run) -> Any:
        value = True
        for part in parts:
            value = part(env, run)
            if value is None or value is False:
                return value
        return value

    return all_of


def _or_node(parts: list[Node]) -> Node:
    def any_of(env: Env, run: _Run) -> Any:
        value = None
        for part in parts:
            value = part(env, run)
            if value is not None and value is not False:
                return value
        return value

    return any_of


def _let_node(inits: list[Node], body: Node) -> Node:
    def let(env: Env, run: _Run) -> Any:
        frame = [env]
        for init in inits:
            frame.append(init(frame, run))
        return body(frame, run)

    return let


def _lambda_node(arity: int, body: Node, weight: int) -> Node:
    return lambda env, run: _Lambda(arity, body, weight, env)


def _sequence_node(nodes: list[Node]) -> Node:
    *effects, last = nodes

    def sequence(env: Env, run: _Run) -> Any:
        for node in effects:
            node(env, run)
        return last(env, run)

    return sequence


def _vector_node(nodes: list[Node]) -> Node:
    return lambda env, run: [node(env, run) for node in nodes]


def _object_node(pairs: list[tuple[str, Node]]) -> Node:
    def build(env: Env, run: _Run) -> dict[str, Any]:
        result = {}
        for name, node in pairs:
            result[name] = node(env, run)
        return result

    return build


def _computed_object_node(pairs: list[tuple[Node, Node]]) -> Node:
    """An object literal whose keys are only known when it runs."""

    def build(env: Env, run: _Run) -> dict[str, Any]:
        return _object_of([(key(env, run), value(env, run)) for key, value in pairs])

    return build


def _call_node(fn: Node, args: list[Node]) -> Node:
    """A function call; one- and two-argument calls (the usual ones) skip building a list."""
    if len(args) == 1:
        (only,) = args
        return lambda env, run: _invoke(fn(env, run), run, (only(env, run),))
    if len(args) == 2:
        first, second = args
        return lambda env, run: _invoke(fn(env, run), run, (first(env, run), second(env, run)))
    return lambda env, run: _invoke(fn(env, run), run, [arg(env, run) for arg in args])


def _invoke(fn: Any, run: _Run, args: tuple[Any, ...] | list[Any]) -> Any:
    """Call an Ale function value: one step for a builtin, a lambda's body weight."""
    kind = type(fn)
    if kind is _Builtin:
        run.left -= 1
        if run.left < 0:
            raise ScriptLimitError("steps", run.budget)
        try:
            return fn.fn(run, *args)
        except TypeError:
            raise ScriptError(f"{fn.name}: wrong number or type of arguments") from None
        except (ValueError, ArithmeticError) as exc:
            raise ScriptError(f"{fn.name}: {exc}") from None
    if kind is _Lambda:
        if len(args) != fn.arity:
            raise ScriptError(f"lambda takes {fn.arity} argument(s), got {len(args)}")
        run.charge(fn.weight)
        run.depth += 1
        if run.depth > MAX_DEPTH:
            raise ScriptLimitError("depth", MAX_DEPTH)
        result = fn.body([fn.env, *args], run)
        run.depth -= 1
        return result
    if kind is _Keyword:  # (:key object default?) is (get object :key default?)
        if not 1 <= len(args) <= 2:
            raise ScriptError(f"{_show(fn)}: expected (:key object default?)")
        run.charge(1)
        return _get(run, args[0], fn, *args[1:])
    raise ScriptError(f"{_show(fn)} is not a function")


# ---------------------------------------------------------------- compiler

Scope = tuple[list[str], ...]
"""Names of the enclosing frames at compile time, innermost last."""


@dataclass(frozen=True, slots=True)
class _Threaded:
    """The value so far of a -> / ->> chain, already compiled, spliced into the next step."""

    compiled: Compiled


def _expect(form: _Seq, low: int, high: int | None, usage: str) -> tuple[Any, ...]:
    args = form.items[1:]
    if len(args) < low or (high is not None and len(args) > high):
        raise _SyntaxAt(f"expected {usage}", form.pos)
    return args


def _is_seq(form: Any, *openers: str) -> bool:
    return type(form) is _Seq and form.opener in openers


def _datum(form: Any, pos: int) -> Any:
    """The value of a quoted form."""
    kind = type(form)
    if kind is _Threaded:
        raise _SyntaxAt("cannot quote a threaded value", pos)
    if kind is not _Seq:
        return form
    items = [_datum(item, form.pos) for item in form.items]
    if form.opener == "(":
        return tuple(items)
    if form.opener == "[":
        return items
    return _static_object(items[::2], items[1::2], form.pos)


def _static_object(keys: list[Any], values: list[Any], pos: int) -> dict[str, Any]:
    names = [_key_name(key) for key in keys]
    if None in names:
        raise _SyntaxAt("object keys must be keywords or strings", pos)
    return dict(zip(names, values, strict=True))


def _cond_clauses(form: _Seq) -> list[tuple[Any, Any]]:
    """(test, expr) pairs from ``[test expr]`` clauses or the flat Clojure form."""
    clauses = form.items[1:]
    if any(_is_seq(clause, "[") for clause in clauses):
        for clause in clauses:
            if not (_is_seq(clause, "[") and len(clause.items) == 2):
                raise _SyntaxAt(
                    "cond clauses must be [test expr]", getattr(clause, "pos", form.pos)
                )
        pairs = [clause.items for clause in clauses]
    elif len(clauses) % 2:
        raise _SyntaxAt("cond needs a test and an expression for each clause", form.pos)
    else:
        pairs = list(zip(clauses[::2], clauses[1::2], strict=True))
    return [(True if test == _Symbol("else") else test, expr) for test, expr in pairs]


def _binding_pairs(spec: Any, pos: int) -> list[tuple[str, Any]]:
    """Accept ``([x 1] [y 2])``, ``((x 1))``, ``[[x 1]]`` and the flat ``[x 1 y 2]``."""
    if not _is_seq(spec, "(", "["):
        raise _SyntaxAt("let bindings must be a list or a vector", pos)
    items = spec.items
    if spec.opener == "[" and items and type(items[0]) is _Symbol:
        if len(items) % 2:
            raise _SyntaxAt("let binding without a value", spec.pos)
        pairs = list(zip(items[::2], items[1::2], strict=True))
    elif all(_is_seq(item, "(", "[") and len(item.items) == 2 for item in items):
        pairs = [item.items for item in items]
    else:
        raise _SyntaxAt("let bindings must be [name value] pairs", spec.pos)
    if any(type(name) is not _Symbol for name, _ in pairs):
        raise _SyntaxAt("let binding names must be symbols", spec.pos)
    return [(name.name, value) for name, value in pairs]


class _Compiler:
    """Turns forms into nodes, collecting the free (global) names the script uses and
    the weight (node count) of the code outside any lambda body."""

    def __init__(self) -> None:
        self.free: set[str] = set()
        self.weight = 0

    def compile(self, form: Any, scope: Scope) -> Compiled:
        self.weight += 1
        kind = type(form)
        if kind is _Symbol:
            return self.symbol(form.name, scope)
        if kind is _Threaded:
            return form.compiled
        if kind is not _Seq:
            return _Const(form)
        if form.opener == "[":
            return self.vector_literal(form, scope)
        if form.opener == "{":
            return self.object_literal(form, scope)
        return self.combination(form, scope)

    def node(self, form: Any, scope: Scope) -> Node:
        return _node(self.compile(form, scope))

    def body(self, forms: Iterable[Any], scope: Scope) -> Compiled:
        """A sequence of forms, worth the last one; null when empty."""
        parts = [self.compile(form, scope) for form in forms]
        if len(parts) <= 1:
            return parts[0] if parts else _Const(None)
        return _sequence_node([_node(part) for part in parts])

    def symbol(self, name: str, scope: Scope) -> Node:
        for depth, names in enumerate(reversed(scope)):
            for slot in range(len(names), 0, -1):
                if names[slot - 1] == name:
                    return _local_node(depth, slot)
        self.free.add(name)
        return _global_node(name)

    def vector_literal(self, form: _Seq, scope: Scope) -> Compiled:
        parts = [self.compile(item, scope) for item in form.items]
        if all(type(part) is _Const for part in parts):
            self.weight -= len(parts)  # folded into this one constant
            return _Const([part.value for part in parts])
        return _vector_node([_node(part) for part in parts])

    def object_literal(self, form: _Seq, scope: Scope) -> Compiled:
        keys = [self.compile(key, scope) for key in form.items[::2]]
        values = [self.compile(value, scope) for value in form.items[1::2]]
        if not all(type(key) is _Const for key in keys):
            return _computed_object_node(
                [(_node(key), _node(value)) for key, value in zip(keys, values, strict=True)]
            )
        if all(type(value) is _Const for value in values):
            self.weight -= len(form.items)  # folded into this one constant
            return _Const(
                _static_object([k.value for k in keys], [v.value for v in values], form.pos)
            )
        names = _static_object([key.value for key in keys], values, form.pos)
        return _object_node([(name, _node(value)) for name, value in names.items()])

    def combination(self, form: _Seq, scope: Scope) -> Compiled:
        if not form.items:
            return _Const(())
        head, *args = form.items
        if type(head) is _Symbol and head.name in _SPECIAL_FORMS:
            return _SPECIAL_FORMS[head.name](self, form, scope)
        return _call_node(self.node(head, scope), [self.node(arg, scope) for arg in args])

    # -- special forms

    def quote(self, form: _Seq, scope: Scope) -> Compiled:
        (datum,) = _expect(form, 1, 1, "(quote form)")
        return _Const(_datum(datum, form.pos))

    def if_(self, form: _Seq, scope: Scope, negate: bool = False) -> Node:
        test, then, *other = _expect(form, 2, 3, "(if test then else?)")
        branches = [self.node(then, scope), self.node(other[0] if other else None, scope)]
        if negate:
            branches.reverse()
        return _if_node(self.node(test, scope), *branches)

    def unless(self, form: _Seq, scope: Scope) -> Node:
        return self.if_(form, scope, negate=True)

    def when(self, form: _Seq, scope: Scope, negate: bool = False) -> Node:
        test, *body = _expect(form, 2, None, "(when test body...)")
        branches = [_node(self.body(body, scope)), _node(_Const(None))]
        if negate:
            branches.reverse()
        return _if_node(self.node(test, scope), *branches)

    def when_not(self, form: _Seq, scope: Scope) -> Node:
        return self.when(form, scope, negate=True)

    def cond(self, form: _Seq, scope: Scope) -> Node:
        return _cond_node(
            [(self.node(test, scope), self.node(expr, scope)) for test, expr in _cond_clauses(form)]
        )

    def and_(self, form: _Seq, scope: Scope) -> Node:
        return _and_node([self.node(part, scope) for part in form.items[1:]])

    def or_(self, form: _Seq, scope: Scope) -> Node:
        return _or_node([self.node(part, scope) for part in form.items[1:]])

    def let(self, form: _Seq, scope: Scope) -> Node:
        """Bindings are sequential (each sees the ones before), for ``let`` and ``let*``."""
        bindings, *body = _expect(form, 2, None, "(let bindings body...)")
        frame: list[str] = []
        inner = (*scope, frame)
        inits = []
        for name, init in _binding_pairs(bindings, form.pos):
            inits.append(self.node(init, inner))
            frame.append(name)
        return _let_node(inits, _node(self.body(body, inner)))

    def lambda_(self, form: _Seq, scope: Scope) -> Node:
        params, *body = _expect(form, 2, None, "(lambda (params...) body...)")
        if not _is_seq(params, "(", "[") or any(type(p) is not _Symbol for p in params.items):
            raise _SyntaxAt("lambda parameters must be a list of symbols", form.pos)
        names = [param.name for param in params.items]
        if len(set(names)) != len(names):
            raise _SyntaxAt("lambda parameters must be distinct", form.pos)
        outer, self.weight = self.weight, 0
        compiled = _node(self.body(body, (*scope, names)))
        weight, self.weight = self.weight, outer
        return _lambda_node(len(names), compiled, weight)

    def begin(self, form: _Seq, scope: Scope) -> Compiled:
        return self.body(form.items[1:], scope)

    def thread_first(self, form: _Seq, scope: Scope) -> Compiled:
        return self.thread(form, scope, last=False)

    def thread_last(self, form: _Seq, scope: Scope) -> Compiled:
        return self.thread(form, scope, last=True)

    def thread(self, form: _Seq, scope: Scope, last: bool) -> Compiled:
        """Compile step by step rather than expand, so long chains do not nest the compiler."""
        start, *steps = _expect(form, 1, None, f"({form.items[0].name} value steps...)")
        value = self.compile(start, scope)
        for step in steps:
            threaded = _Threaded(value)
            if _is_seq(step, "(") and step.items:
                head, *rest = step.items
                items = (head, *rest, threaded) if last else (head, threaded, *rest)
                value = self.compile(_Seq("(", items, step.pos), scope)
            else:
                value = self.compile(_Seq("(", (step, threaded), form.pos), scope)
        return value


_SPECIAL_FORMS: dict[str, Callable[[_Compiler, _Seq, Scope], Compiled]] = {
    "quote": _Compiler.quote,
    "if": _Compiler.if_,
    "unless": _Compiler.unless,
    "when": _Compiler.when,
    "when-not": _Compiler.when_not,
    "cond": _Compiler.cond,
    "and": _Compiler.and_,
    "or": _Compiler.or_,
    "let": _Compiler.let,
    "let*": _Compiler.let,
    "lambda": _Compiler.lambda_,
    "fn": _Compiler.lambda_,
    "begin": _Compiler.begin,
    "->": _Compiler.thread_first,
    "->>": _Compiler.thread_last,
}


# ---------------------------------------------------------------- conversion


def _to_ale(value: Any) -> Any:
    """A JSON-like input as an Ale value (copied: the caller keeps its own data)."""
    if type(value) in _JSON_SCALARS:
        return value
    if isinstance(value, Mapping):
        if not all(type(key) is str for key in value):
            raise ScriptError("input object keys must be strings")
        return {key: _to_ale(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_to_ale(item) for item in value]
    for kind in (bool, int, float, str):  # subclasses such as IntEnum or StrEnum
        if isinstance(value, kind):
            return kind(value)
    raise ScriptError(f"input of type {type(value).__name__} is not JSON-like")


def _to_json(value: Any, run: _Run) -> Any:
    """An Ale value as plain JSON-like data; pays per item, so shared structure
    (a vector holding another twice, forty levels deep) cannot explode the output."""
    kind = type(value)
    if kind in _JSON_SCALARS:
        return value
    if kind is dict:
        run.charge(_CONTAINER_COST + len(value))
        return {key: _to_json(item, run) for key, item in value.items()}
    if kind is list or kind is tuple:
        run.charge(_CONTAINER_COST + len(value))
        return [_to_json(item, run) for item in value]
    if kind is _Keyword or kind is _Symbol:
        return value.name
    raise ScriptError("cannot return a function")


def _object_of(pairs: Iterable[tuple[Any, Any]]) -> dict[str, Any]:
    result = {}
    for key, value in pairs:
        name = _key_name(key)
        if name is None:
            raise ScriptError(f"object keys must be keywords or strings, not {_type_name(key)}")
        result[name] = value
    return result


# ---------------------------------------------------------------- printing


_KEY_ATOM = re.compile(r"[^\s,;()\[\]{}\"':][^\s,;()\[\]{}\"]*")
_STRING_ESCAPES = str.maketrans({'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"})


def _display(value: Any, run: _Run) -> str:
    """What ``str`` shows of a non-string: null as "", anything else as written."""
    if value is None:
        return ""
    parts: list[str] = []
    _write(value, parts, run)
    return "".join(parts)


def _write(value: Any, parts: list[str], run: _Run) -> None:
    """Append the readable form of a value, paying for its size as it goes."""
    kind = type(value)
    if kind is str:
        run.charge(len(value) // _COPY_RATE)
        parts.append(_show(value))
    elif kind is list or kind is tuple:
        run.charge(_CONTAINER_COST + len(value))
        _write_items(value, "[]" if kind is list else "()", parts, run)
    elif kind is dict:
        run.charge(_CONTAINER_COST + len(value))
        parts.append("{")
        for index, (key, item) in enumerate(value.items()):
            parts.append(" " if index else "")
            parts.append(f":{key} " if _KEY_ATOM.fullmatch(key) else f"{_show(key)} ")
            _write(item, parts, run)
        parts.append("}")
    else:
        parts.append(_show(value))


def _write_items(items: Iterable[Any], brackets: str, parts: list[str], run: _Run) -> None:
    parts.append(brackets[0])
    for index, item in enumerate(items):
        if index:
            parts.append(" ")
        _write(item, parts, run)
    parts.append(brackets[1])


def _show(value: Any) -> str:
    """The written form of a scalar (or a short placeholder), for ``str`` and messages."""
    kind = type(value)
    if value is None or kind is bool:
        return "null" if value is None else str(value).lower()
    if kind is int or kind is float:
        return repr(value)
    if kind is str:
        return '"' + value.translate(_STRING_ESCAPES) + '"'
    if kind is _Keyword:
        return ":" + value.name
    if kind is _Symbol:
        return value.name
    return f"#<{_type_name(value)}>"


# ---------------------------------------------------------------- builtins

_BUILTINS: dict[str, _Builtin] = {}
_F = TypeVar("_F", bound=Callable[..., Any])


def _builtin(*names: str) -> Callable[[_F], _F]:
    def register(fn: _F) -> _F:
        for name in names:
            _BUILTINS[name] = _Builtin(name, fn)
        return fn

    return register


def _numbers(name: str, values: Iterable[Any]) -> Iterable[Any]:
    for value in values:
        if type(value) not in _NUMBER_TYPES:
            raise ScriptError(f"{name}: expected a number, got {_type_name(value)}")
    return values


def _integer(name: str, value: Any) -> int:
    if type(value) is not int:
        raise ScriptError(f"{name}: expected an integer, got {_type_name(value)}")
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
    raise ScriptError(f"{name}: expected a vector or list, got {_type_name(value)}")


def _copied(run: _Run, result: Any) -> Any:
    run.charge(len(result) // _COPY_RATE)
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


@_builtin("+")
def _add(run: _Run, *values: Any) -> Any:
    return _fit(sum(_numbers("+", values)))


@_builtin("*")
def _multiply(run: _Run, *values: Any) -> Any:
    return _fit(math.prod(_numbers("*", values)))


@_builtin("-")
def _subtract(run: _Run, first: Any, *rest: Any) -> Any:
    _numbers("-", (first, *rest))
    return _fit(reduce(operator.sub, rest, first) if rest else -first)


@_builtin("/")
def _div(run: _Run, first: Any, *rest: Any) -> Any:
    _numbers("/", (first, *rest))
    return reduce(_divide, rest, first) if rest else _divide(1, first)


@_builtin("mod")
def _mod(run: _Run, a: Any, b: Any) -> Any:
    _numbers("mod", (a, b))
    if b == 0:
        raise ScriptError("mod: division by zero")
    return a % b


@_builtin("inc")
def _inc(run: _Run, value: Any) -> Any:
    _numbers("inc", (value,))
    return _fit(value + 1)


@_builtin("dec")
def _dec(run: _Run, value: Any) -> Any:
    _numbers("dec", (value,))
    return _fit(value - 1)


@_builtin("abs")
def _abs(run: _Run, value: Any) -> Any:
    _numbers("abs", (value,))
    return _fit(abs(value))


@_builtin("min")
def _min(run: _Run, first: Any, *rest: Any) -> Any:
    return min(_numbers("min", (first, *rest)))


@_builtin("max")
def _max(run: _Run, first: Any, *rest: Any) -> Any:
    return max(_numbers("max", (first, *rest)))


@_builtin("zero?")
def _is_zero(run: _Run, value: Any) -> bool:
    _numbers("zero?", (value,))
    return value == 0


@_builtin("even?")
def _is_even(run: _Run, value: Any) -> bool:
    return _integer("even?", value) % 2 == 0


@_builtin("odd?")
def _is_odd(run: _Run, value: Any) -> bool:
    return _integer("odd?", value) % 2 == 1


def _equal(a: Any, b: Any, run: _Run) -> bool:
    """Deep equality: 1 equals 1.0, a vector equals a list with equal items, true is not 1."""
    kind_a, kind_b = type(a), type(b)
    if kind_a in _NUMBER_TYPES and kind_b in _NUMBER_TYPES:
        return a == b
    if kind_a in _SEQ_TYPES and kind_b in _SEQ_TYPES:
        run.charge(_CONTAINER_COST + len(a))
        return len(a) == len(b) and all(_equal(x, y, run) for x, y in zip(a, b, strict=True))
    if kind_a is not kind_b:
        return False
    if kind_a is dict:
        run.charge(_CONTAINER_COST + len(a))
        return a.keys() == b.keys() and all(_equal(item, b[key], run) for key, item in a.items())
    if kind_a is str:
        run.charge(len(a) // _SCAN_RATE)
    return a == b


@_builtin("=")
def _eq(run: _Run, first: Any, *rest: Any) -> bool:
    return all(_equal(first, other, run) for other in rest)


@_builtin("!=")
def _not_eq(run: _Run, first: Any, *rest: Any) -> bool:
    return not _eq(run, first, *rest)


def _chain(name: str, test: Callable[[Any, Any], bool]) -> Callable[..., bool]:
    """A variadic comparison over numbers, or over strings."""

    def compare(run: _Run, first: Any, *rest: Any) -> bool:
        values = (first, *rest)
        if type(first) is not str:
            _numbers(name, values)
        elif all(type(value) is str for value in rest):
            run.charge(sum(map(len, values)) // _SCAN_RATE)
        else:
            raise ScriptError(f"{name}: cannot compare strings with other values")
        return all(map(test, values, rest))  # each value against the next

    return compare


_BUILTINS.update(
    (name, _Builtin(name, _chain(name, test)))
    for name, test in (
        ("<", operator.lt),
        ("<=", operator.le),
        (">", operator.gt),
        (">=", operator.ge),
    )
)


@_builtin("not")
def _not(run: _Run, value: Any) -> bool:
    return not _truthy(value)


@_builtin("identity")
def _identity(run: _Run, value: Any) -> Any:
    return value


@_builtin("str")
def _str(run: _Run, *values: Any) -> str:
    """Pays for the result's length before joining: inputs can be long and repeated."""
    texts = [value if type(value) is str else _display(value, run) for value in values]
    run.charge(len(texts) + sum(map(len, texts)) // _COPY_RATE)
    return "".join(texts)


@_builtin("list")
def _list(run: _Run, *values: Any) -> tuple[Any, ...]:
    return values


@_builtin("vector")
def _vector(run: _Run, *values: Any) -> list[Any]:
    return list(values)


@_builtin("object")
def _object(run: _Run, *pairs: Any) -> dict[str, Any]:
    if len(pairs) % 2:
        raise ScriptError("object: needs a value for every key")
    return _object_of(zip(pairs[::2], pairs[1::2], strict=True))


def _lookup(coll: Any, key: Any) -> Any:
    """The item of an object or vector/list under ``key``, or _MISSING."""
    kind = type(coll)
    if kind is dict:
        name = _key_name(key)
        return _MISSING if name is None else coll.get(name, _MISSING)
    if kind is list or kind is tuple:
        return coll[key] if type(key) is int and 0 <= key < len(coll) else _MISSING
    if coll is None:
        return _MISSING
    raise ScriptError(f"cannot look up keys in a {_type_name(coll)}")


@_builtin("get")
def _get(run: _Run, coll: Any, key: Any, default: Any = _MISSING) -> Any:
    found = _lookup(coll, key)
    if found is not _MISSING:
        return found
    if default is _MISSING:
        raise ScriptError(f"get: no {_show(key)} in the {_type_name(coll)}")
    return default


@_builtin("nth")
def _nth(run: _Run, coll: Any, index: Any, default: Any = _MISSING) -> Any:
    items = _seq("nth", coll)
    if 0 <= _integer("nth", index) < len(items):
        return items[index]
    if default is _MISSING:
        raise ScriptError(f"nth: index {index} out of range")
    return default


@_builtin("contains?")
def _contains(run: _Run, coll: Any, item: Any) -> bool:
    """A key of an object, an element of a vector or list, a substring of a string."""
    kind = type(coll)
    if kind is dict:
        return _key_name(item) in coll
    if kind is str and type(item) is str:
        run.charge(len(coll) // _COPY_RATE)
        return item in coll
    items = _seq("contains?", coll)
    run.charge(len(items))
    return any(_equal(element, item, run) for element in items)


@_builtin("assoc")
def _assoc(run: _Run, coll: Any, *pairs: Any) -> Any:
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
        raise ScriptError(f"assoc: expected an object or vector, got {_type_name(coll)}")
    return _copied(run, {**(coll or {}), **_object_of(zip(pairs[::2], pairs[1::2], strict=True))})


@_builtin("dissoc")
def _dissoc(run: _Run, coll: Any, *keys: Any) -> dict[str, Any]:
    if type(coll) is not dict:
        raise ScriptError(f"dissoc: expected an object, got {_type_name(coll)}")
    names = {_key_name(key) for key in keys}
    return _copied(run, {key: value for key, value in coll.items() if key not in names})


def _size(name: str, value: Any) -> int:
    if type(value) in (list, tuple, str, dict):
        return len(value)
    if value is None:
        return 0
    raise ScriptError(f"{name}: expected a collection or string, got {_type_name(value)}")


@_builtin("length")
def _length(run: _Run, value: Any) -> int:
    return _size("length", value)


@_builtin("empty?")
def _is_empty(run: _Run, value: Any) -> bool:
    return _size("empty?", value) == 0


@_builtin("first", "car")
def _first(run: _Run, coll: Any) -> Any:
    items = _seq("first", coll)
    return items[0] if items else None


@_builtin("last")
def _last(run: _Run, coll: Any) -> Any:
    items = _seq("last", coll)
    return items[-1] if items else None


@_builtin("rest", "cdr")
def _rest(run: _Run, coll: Any) -> Any:
    return _copied(run, _seq("rest", coll)[1:])


@_builtin("reverse")
def _reverse(run: _Run, coll: Any) -> Any:
    return _copied(run, _seq("reverse", coll)[::-1])


@_builtin("take")
def _take(run: _Run, count: Any, coll: Any) -> Any:
    return _copied(run, _seq("take", coll)[: max(_integer("take", count), 0)])


@_builtin("drop")
def _drop(run: _Run, count: Any, coll: Any) -> Any:
    return _copied(run, _seq("drop", coll)[max(_integer("drop", count), 0) :])


@_builtin("conj")
def _conj(run: _Run, coll: Any, *values: Any) -> Any:
    """Append to a vector; prepend (one by one) to a list or null."""
    items = _seq("conj", coll)
    if type(items) is list:
        return _copied(run, [*items, *values])
    return _copied(run, (*values[::-1], *items))


@_builtin("cons")
def _cons(run: _Run, value: Any, coll: Any) -> tuple[Any, ...]:
    return _copied(run, (value, *_seq("cons", coll)))


@_builtin("concat")
def _concat(run: _Run, *colls: Any) -> Any:
    """Items of every argument, as a list if the first one is a list, else a vector."""
    items = [item for coll in colls for item in _seq("concat", coll)]
    return _copied(run, tuple(items) if colls and type(colls[0]) is tuple else items)


@_builtin("seq->vector")
def _to_vector(run: _Run, coll: Any) -> list[Any]:
    return _copied(run, list(_seq("seq->vector", coll)))


@_builtin("seq->list")
def _to_list(run: _Run, coll: Any) -> tuple[Any, ...]:
    return _copied(run, tuple(_seq("seq->list", coll)))


@_builtin("range")
def _range(run: _Run, *bounds: Any) -> list[int]:
    """``(range max)``, ``(range min max)`` or ``(range min max step)``; one step per item."""
    if not 1 <= len(bounds) <= 3:
        raise ScriptError("range: expected (range min max step?)")
    numbers = range(*[_integer("range", bound) for bound in bounds])
    try:
        run.charge(len(numbers))
    except OverflowError:
        raise ScriptLimitError("steps", run.budget) from None
    return list(numbers)


@_builtin("map")
def _map(run: _Run, fn: Any, first: Any, *more: Any) -> Any:
    """Call ``fn`` on the items of each sequence in turn, stopping at the shortest."""
    items = _seq("map", first)
    if more:
        rows = zip(items, *[_seq("map", coll) for coll in more], strict=False)
        result = [_invoke(fn, run, row) for row in rows]
    else:
        result = [_invoke(fn, run, (item,)) for item in items]
    return tuple(result) if type(items) is tuple else result


@_builtin("filter")
def _filter(run: _Run, fn: Any, coll: Any) -> Any:
    items = _seq("filter", coll)
    result = [item for item in items if _truthy(_invoke(fn, run, (item,)))]
    return tuple(result) if type(items) is tuple else result


@_builtin("reduce", "fold-left")
def _reduce(run: _Run, fn: Any, *args: Any) -> Any:
    """``(reduce f init seq)``, or ``(reduce f seq)`` starting from the first item."""
    if len(args) == 2:
        total, items = args[0], iter(_seq("reduce", args[1]))
    elif len(args) == 1:
        coll = _seq("reduce", args[0])
        if not coll:
            return _invoke(fn, run, ())
        total, items = coll[0], islice(coll, 1, None)
    else:
        raise ScriptError("reduce: expected (reduce f init? seq)")
    for item in items:
        total = _invoke(fn, run, (total, item))
    return total


@_builtin("apply")
def _apply(run: _Run, fn: Any, *args: Any) -> Any:
    """``(apply f a b [c d])`` calls ``(f a b c d)``."""
    if not args:
        raise ScriptError("apply: expected (apply f args... seq)")
    spread = _seq("apply", args[-1])
    run.charge(len(spread))  # the callee handles each argument
    return _invoke(fn, run, (*args[:-1], *spread))


def _is(kind: type) -> Callable[[_Run, Any], bool]:
    return lambda run, value: type(value) is kind


_BUILTINS.update(
    (name, _Builtin(name, _is(kind)))
    for name, kind in (
        ("null?", type(None)),
        ("string?", str),
        ("keyword?", _Keyword),
        ("vector?", list),
        ("list?", tuple),
        ("object?", dict),
    )
)


# ---------------------------------------------------------------- public API


class AleProgram:
    """A compiled Ale script; immutable, so one program may run any number of times."""

    __slots__ = ("_inputs", "_node", "_scope", "_weight", "source")

    def __init__(self, source: str, node: Node, weight: int, free: set[str]) -> None:
        self.source = source
        self._node, self._weight = node, weight
        self._inputs = tuple(sorted(free))
        self._scope = {name: _BUILTINS[name] for name in self._inputs if name in _BUILTINS}

    def __repr__(self) -> str:
        return f"AleProgram({self.source!r})"

    def run(self, bindings: Mapping[str, Any], *, budget: int = DEFAULT_BUDGET) -> Any:
        """Evaluate with ``bindings`` as symbols and return the value as JSON-like data."""
        scope = dict(self._scope)
        try:
            for name in self._inputs:
                value = bindings.get(name, _MISSING)
                if value is not _MISSING:
                    scope[name] = _to_ale(value)
            run = _Run(budget, scope)
            run.charge(self._weight)
            return _to_json(self._node(None, run), run)
        except RecursionError:
            raise ScriptLimitError("depth", MAX_DEPTH) from None


def compile_ale(source: str) -> AleProgram:
    """Read and compile a script of one or more forms (its value is the last one's)."""
    compiler = _Compiler()
    try:
        node = _node(compiler.body(_read(source), ()))
    except _SyntaxAt as error:
        raise ScriptSyntaxError(error.message, *_position(source, error.pos)) from None
    except RecursionError:
        raise ScriptLimitError("depth", MAX_DEPTH) from None
    return AleProgram(source, node, compiler.weight, compiler.free)
