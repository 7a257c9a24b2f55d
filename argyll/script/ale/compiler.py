"""The Ale compiler: forms to a tree of evaluator nodes, special forms included.

Compiling resolves every local to its frame slot, folds literal vectors and
objects into constants built once, collects the free (global) names a script
uses, and counts the weight (node count) a run or a lambda call pays up front.
Special forms are methods of ``Compiler`` listed in ``SPECIAL_FORMS``; ``->`` and
``->>`` compile step by step rather than expand, so long chains do not nest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from argyll.script.ale import evaluator
from argyll.script.ale.evaluator import Compiled, Const, node
from argyll.script.ale.reader import Seq, SyntaxAt
from argyll.script.ale.values import Node, Symbol, key_name

Scope = tuple[list[str], ...]
"""Names of the enclosing frames at compile time, innermost last."""


@dataclass(frozen=True, slots=True)
class _Threaded:
    """The value so far of a -> / ->> chain, already compiled, spliced into the next step."""

    compiled: Compiled


def _expect(form: Seq, low: int, high: int | None, usage: str) -> tuple[Any, ...]:
    args = form.items[1:]
    if len(args) < low or (high is not None and len(args) > high):
        raise SyntaxAt(f"expected {usage}", form.pos)
    return args


def _is_seq(form: Any, *openers: str) -> bool:
    return type(form) is Seq and form.opener in openers


def _datum(form: Any, pos: int) -> Any:
    """The value of a quoted form."""
    kind = type(form)
    if kind is _Threaded:
        raise SyntaxAt("cannot quote a threaded value", pos)
    if kind is not Seq:
        return form
    items = [_datum(item, form.pos) for item in form.items]
    if form.opener == "(":
        return tuple(items)
    if form.opener == "[":
        return items
    return _static_object(items[::2], items[1::2], form.pos)


def _static_object(keys: list[Any], values: list[Any], pos: int) -> dict[str, Any]:
    names = [key_name(key) for key in keys]
    if None in names:
        raise SyntaxAt("object keys must be keywords or strings", pos)
    return dict(zip(names, values, strict=True))


def _cond_clauses(form: Seq) -> list[tuple[Any, Any]]:
    """(test, expr) pairs from ``[test expr]`` clauses or the flat Clojure form."""
    clauses = form.items[1:]
    if any(_is_seq(clause, "[") for clause in clauses):
        for clause in clauses:
            if not (_is_seq(clause, "[") and len(clause.items) == 2):
                raise SyntaxAt("cond clauses must be [test expr]", getattr(clause, "pos", form.pos))
        pairs = [clause.items for clause in clauses]
    elif len(clauses) % 2:
        raise SyntaxAt("cond needs a test and an expression for each clause", form.pos)
    else:
        pairs = list(zip(clauses[::2], clauses[1::2], strict=True))
    return [(True if test == Symbol("else") else test, expr) for test, expr in pairs]


def _binding_pairs(spec: Any, pos: int) -> list[tuple[str, Any]]:
    """Accept ``([x 1] [y 2])``, ``((x 1))``, ``[[x 1]]`` and the flat ``[x 1 y 2]``."""
    if not _is_seq(spec, "(", "["):
        raise SyntaxAt("let bindings must be a list or a vector", pos)
    items = spec.items
    if spec.opener == "[" and items and type(items[0]) is Symbol:
        if len(items) % 2:
            raise SyntaxAt("let binding without a value", spec.pos)
        pairs = list(zip(items[::2], items[1::2], strict=True))
    elif all(_is_seq(item, "(", "[") and len(item.items) == 2 for item in items):
        pairs = [item.items for item in items]
    else:
        raise SyntaxAt("let bindings must be [name value] pairs", spec.pos)
    if any(type(name) is not Symbol for name, _ in pairs):
        raise SyntaxAt("let binding names must be symbols", spec.pos)
    return [(name.name, value) for name, value in pairs]


class Compiler:
    """Turns forms into nodes, collecting the free (global) names the script uses and
    the weight (node count) of the code outside any lambda body."""

    def __init__(self) -> None:
        self.free: set[str] = set()
        self.weight = 0

    def compile(self, form: Any, scope: Scope) -> Compiled:
        self.weight += 1
        kind = type(form)
        if kind is Symbol:
            return self.symbol(form.name, scope)
        if kind is _Threaded:
            return form.compiled
        if kind is not Seq:
            return Const(form)
        if form.opener == "[":
            return self.vector_literal(form, scope)
        if form.opener == "{":
            return self.object_literal(form, scope)
        return self.combination(form, scope)

    def node(self, form: Any, scope: Scope) -> Node:
        return node(self.compile(form, scope))

    def body(self, forms: Iterable[Any], scope: Scope) -> Compiled:
        """A sequence of forms, worth the last one; null when empty."""
        parts = [self.compile(form, scope) for form in forms]
        if len(parts) <= 1:
            return parts[0] if parts else Const(None)
        return evaluator.sequence_node([node(part) for part in parts])

    def symbol(self, name: str, scope: Scope) -> Node:
        for depth, names in enumerate(reversed(scope)):
            for slot in range(len(names), 0, -1):
                if names[slot - 1] == name:
                    return evaluator.local_node(depth, slot)
        self.free.add(name)
        return evaluator.global_node(name)

    def vector_literal(self, form: Seq, scope: Scope) -> Compiled:
        parts = [self.compile(item, scope) for item in form.items]
        if all(type(part) is Const for part in parts):
            self.weight -= len(parts)  # folded into this one constant
            return Const([part.value for part in parts])
        return evaluator.vector_node([node(part) for part in parts])

    def object_literal(self, form: Seq, scope: Scope) -> Compiled:
        keys = [self.compile(key, scope) for key in form.items[::2]]
        values = [self.compile(value, scope) for value in form.items[1::2]]
        if not all(type(key) is Const for key in keys):
            return evaluator.computed_object_node(
                [(node(key), node(value)) for key, value in zip(keys, values, strict=True)]
            )
        if all(type(value) is Const for value in values):
            self.weight -= len(form.items)  # folded into this one constant
            return Const(
                _static_object([k.value for k in keys], [v.value for v in values], form.pos)
            )
        names = _static_object([key.value for key in keys], values, form.pos)
        return evaluator.object_node([(name, node(value)) for name, value in names.items()])

    def combination(self, form: Seq, scope: Scope) -> Compiled:
        if not form.items:
            return Const(())
        head, *args = form.items
        if type(head) is Symbol and head.name in SPECIAL_FORMS:
            return SPECIAL_FORMS[head.name](self, form, scope)
        return evaluator.call_node(self.node(head, scope), [self.node(arg, scope) for arg in args])

    # -- special forms

    def quote(self, form: Seq, scope: Scope) -> Compiled:
        (datum,) = _expect(form, 1, 1, "(quote form)")
        return Const(_datum(datum, form.pos))

    def if_(self, form: Seq, scope: Scope, negate: bool = False) -> Node:
        test, then, *other = _expect(form, 2, 3, "(if test then else?)")
        branches = [self.node(then, scope), self.node(other[0] if other else None, scope)]
        if negate:
            branches.reverse()
        return evaluator.if_node(self.node(test, scope), *branches)

    def unless(self, form: Seq, scope: Scope) -> Node:
        return self.if_(form, scope, negate=True)

    def when(self, form: Seq, scope: Scope, negate: bool = False) -> Node:
        test, *body = _expect(form, 2, None, "(when test body...)")
        branches = [node(self.body(body, scope)), node(Const(None))]
        if negate:
            branches.reverse()
        return evaluator.if_node(self.node(test, scope), *branches)

    def when_not(self, form: Seq, scope: Scope) -> Node:
        return self.when(form, scope, negate=True)

    def cond(self, form: Seq, scope: Scope) -> Node:
        return evaluator.cond_node(
            [(self.node(test, scope), self.node(expr, scope)) for test, expr in _cond_clauses(form)]
        )

    def and_(self, form: Seq, scope: Scope) -> Node:
        return evaluator.and_node([self.node(part, scope) for part in form.items[1:]])

    def or_(self, form: Seq, scope: Scope) -> Node:
        return evaluator.or_node([self.node(part, scope) for part in form.items[1:]])

    def let(self, form: Seq, scope: Scope) -> Node:
        """Bindings are sequential (each sees the ones before), for ``let`` and ``let*``."""
        bindings, *body = _expect(form, 2, None, "(let bindings body...)")
        frame: list[str] = []
        inner = (*scope, frame)
        inits = []
        for name, init in _binding_pairs(bindings, form.pos):
            inits.append(self.node(init, inner))
            frame.append(name)
        return evaluator.let_node(inits, node(self.body(body, inner)))

    def lambda_(self, form: Seq, scope: Scope) -> Node:
        params, *body = _expect(form, 2, None, "(lambda (params...) body...)")
        if not _is_seq(params, "(", "[") or any(type(p) is not Symbol for p in params.items):
            raise SyntaxAt("lambda parameters must be a list of symbols", form.pos)
        names = [param.name for param in params.items]
        if len(set(names)) != len(names):
            raise SyntaxAt("lambda parameters must be distinct", form.pos)
        outer, self.weight = self.weight, 0
        compiled = node(self.body(body, (*scope, names)))
        weight, self.weight = self.weight, outer
        return evaluator.lambda_node(len(names), compiled, weight)

    def begin(self, form: Seq, scope: Scope) -> Compiled:
        return self.body(form.items[1:], scope)

    def thread_first(self, form: Seq, scope: Scope) -> Compiled:
        return self.thread(form, scope, last=False)

    def thread_last(self, form: Seq, scope: Scope) -> Compiled:
        return self.thread(form, scope, last=True)

    def thread(self, form: Seq, scope: Scope, last: bool) -> Compiled:
        """Compile step by step rather than expand, so long chains do not nest the compiler."""
        start, *steps = _expect(form, 1, None, f"({form.items[0].name} value steps...)")
        value = self.compile(start, scope)
        for step in steps:
            threaded = _Threaded(value)
            if _is_seq(step, "(") and step.items:
                head, *rest = step.items
                items = (head, *rest, threaded) if last else (head, threaded, *rest)
                value = self.compile(Seq("(", items, step.pos), scope)
            else:
                value = self.compile(Seq("(", (step, threaded), form.pos), scope)
        return value


SPECIAL_FORMS: dict[str, Callable[[Compiler, Seq, Scope], Compiled]] = {
    "quote": Compiler.quote,
    "if": Compiler.if_,
    "unless": Compiler.unless,
    "when": Compiler.when,
    "when-not": Compiler.when_not,
    "cond": Compiler.cond,
    "and": Compiler.and_,
    "or": Compiler.or_,
    "let": Compiler.let,
    "let*": Compiler.let,
    "lambda": Compiler.lambda_,
    "fn": Compiler.lambda_,
    "begin": Compiler.begin,
    "->": Compiler.thread_first,
    "->>": Compiler.thread_last,
}
