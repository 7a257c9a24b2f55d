"""The forms real Ale defines as macros: threading, ``cond``, ``case``, ``try``, ``for``...

Ale writes these in Ale itself, expanding them into ``if``, ``let`` and ``lambda``.
Here each compiles straight to evaluator nodes (``->`` splices the value so far into
the next step; the others thread it through a one-slot frame), so no expansion
step is needed and long chains do not nest the compiler. ``DerivedForms`` is a
mixin of ``Compiler``: its methods use the compiler's ``compile``, ``node``, ``body``
and ``lambda_``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from argyll.script.ale import evaluator
from argyll.script.ale.evaluator import Compiled, node
from argyll.script.ale.reader import Seq, SyntaxAt
from argyll.script.ale.values import Node, Symbol

if TYPE_CHECKING:
    from argyll.script.ale.compiler import Compiler, Scope

_VALUE = "\0value"
"""The name of the slot holding a threaded value: no symbol can spell it."""


@dataclass(frozen=True, slots=True)
class Threaded:
    """The value so far of a -> / ->> chain, already compiled, spliced into the next step."""

    compiled: Compiled


def expect(form: Seq, low: int, high: int | None, usage: str) -> tuple[Any, ...]:
    args = form.items[1:]
    if len(args) < low or (high is not None and len(args) > high):
        raise SyntaxAt(f"expected {usage}", form.pos)
    return args


def is_seq(form: Any, *openers: str) -> bool:
    return type(form) is Seq and form.opener in openers


def thread_step(step: Any, value: Any, last: bool, pos: int) -> Seq:
    """``step`` with ``value`` as its first (or last) argument; a bare name becomes a call."""
    if is_seq(step, "(") and step.items:
        head, *rest = step.items
        return Seq("(", (head, *rest, value) if last else (head, value, *rest), step.pos)
    return Seq("(", (step, value), pos)


def _pairs(clauses: tuple[Any, ...], usage: str, pos: int) -> list[tuple[Any, Any]]:
    """``[test expr]`` clauses, or the flat ``test expr ...`` form."""
    if any(is_seq(clause, "[") for clause in clauses):
        for clause in clauses:
            if not (is_seq(clause, "[") and len(clause.items) == 2):
                raise SyntaxAt(f"{usage} clauses must be [test expr]", getattr(clause, "pos", pos))
        return [clause.items for clause in clauses]
    if len(clauses) % 2:
        raise SyntaxAt(f"{usage} needs a test and an expression for each clause", pos)
    return list(zip(clauses[::2], clauses[1::2], strict=True))


def _binding(spec: Any, usage: str, pos: int) -> tuple[str, Any]:
    """The ``[name expr]`` of ``if-let``, ``when-let``, ``let->`` and ``catch``."""
    if not (is_seq(spec, "[") and len(spec.items) == 2 and type(spec.items[0]) is Symbol):
        raise SyntaxAt(f"expected {usage}", pos)
    return spec.items[0].name, spec.items[1]


def _call(head: str, *args: Any, pos: int) -> Seq:
    return Seq("(", (Symbol(head), *args), pos)


class DerivedForms:
    """Special forms Ale builds from others, compiled directly."""

    FORMS: ClassVar[dict[str, Callable[..., Compiled]]] = {}

    def cond(self: Compiler, form: Seq, scope: Scope) -> Node:
        clauses = []
        for test, expr in _pairs(form.items[1:], "cond", form.pos):
            test = True if test == Symbol("else") else test
            clauses.append((self.node(test, scope), self.node(expr, scope)))
        return evaluator.cond_node(clauses)

    def not_and(self: Compiler, form: Seq, scope: Scope) -> Node:
        return evaluator.not_node(self.and_(form, scope))

    def not_or(self: Compiler, form: Seq, scope: Scope) -> Node:
        return evaluator.not_node(self.or_(form, scope))

    def thread_first(self: Compiler, form: Seq, scope: Scope) -> Compiled:
        return self.thread(form, scope, last=False)

    def thread_last(self: Compiler, form: Seq, scope: Scope) -> Compiled:
        return self.thread(form, scope, last=True)

    def thread(self: Compiler, form: Seq, scope: Scope, last: bool) -> Compiled:
        start, *steps = expect(form, 1, None, f"({form.items[0].name} value steps...)")
        value = self.compile(start, scope)
        for step in steps:
            value = self.compile(thread_step(step, Threaded(value), last, form.pos), scope)
        return value

    def threaded_steps(
        self: Compiler, steps: list[tuple[Any, Any]], scope: Scope, name: str, last: bool, pos: int
    ) -> list[tuple[Node | None, Node]]:
        """Compile (test?, step) pairs against a one-slot frame holding the value so far."""
        inner = (*scope, [name])
        here = Symbol(name, pos)
        compiled = []
        for test, step in steps:
            test_node = (
                None if test is None else self.node(thread_step(test, here, last, pos), inner)
            )
            step_form = step if name != _VALUE else thread_step(step, here, last, pos)
            compiled.append((test_node, self.node(step_form, inner)))
        return compiled

    def some_first(self: Compiler, form: Seq, scope: Scope) -> Node:
        return self.some(form, scope, last=False)

    def some_last(self: Compiler, form: Seq, scope: Scope) -> Node:
        return self.some(form, scope, last=True)

    def some(self: Compiler, form: Seq, scope: Scope, last: bool) -> Node:
        """``some->``: thread like ``->`` but stop with null as soon as a value is null."""
        start, *steps = expect(form, 1, None, f"({form.items[0].name} value steps...)")
        pairs = [(None, step) for step in steps]
        compiled = self.threaded_steps(pairs, scope, _VALUE, last, form.pos)
        return evaluator.thread_node(self.node(start, scope), compiled, stop_on_null=True)

    def cond_first(self: Compiler, form: Seq, scope: Scope) -> Node:
        return self.cond_thread(form, scope, last=False)

    def cond_last(self: Compiler, form: Seq, scope: Scope) -> Node:
        return self.cond_thread(form, scope, last=True)

    def cond_thread(self: Compiler, form: Seq, scope: Scope, last: bool) -> Node:
        """``cond->``: each ``[test step]`` threads the value through ``test``, then ``step``."""
        start, *clauses = expect(form, 1, None, f"({form.items[0].name} value [test step]...)")
        pairs = _pairs(tuple(clauses), form.items[0].name, form.pos)
        compiled = self.threaded_steps(pairs, scope, _VALUE, last, form.pos)
        return evaluator.thread_node(self.node(start, scope), compiled, stop_on_null=False)

    def let_thread(self: Compiler, form: Seq, scope: Scope) -> Node:
        """``(let-> [x init] steps...)``: each step's value becomes ``x`` for the next."""
        spec, *steps = expect(form, 2, None, "(let-> [name value] steps...)")
        name, init = _binding(spec, "(let-> [name value] steps...)", form.pos)
        compiled = self.threaded_steps([(None, s) for s in steps], scope, name, False, form.pos)
        return evaluator.thread_node(self.node(init, scope), compiled, stop_on_null=False)

    def case(self: Compiler, form: Seq, scope: Scope) -> Node:
        """``(case value [test expr]...)``: a list of tests matches any of them (with ``eq``)."""
        value, *clauses = expect(form, 1, None, "(case value [test expr]...)")
        compiled = []
        for test, expr in _pairs(tuple(clauses), "case", form.pos):
            tests = test.items if is_seq(test, "(") else (test,)
            compiled.append(([self.node(item, scope) for item in tests], self.node(expr, scope)))
        return evaluator.case_node(self.node(value, scope), compiled)

    def if_let(self: Compiler, form: Seq, scope: Scope, body_only: bool = False) -> Node:
        usage = (
            "(when-let [name value] body...)" if body_only else "(if-let [name value] then else?)"
        )
        spec, *rest = expect(form, 2, None if body_only else 3, usage)
        name, value = _binding(spec, usage, form.pos)
        inner = (*scope, [name])
        then = node(self.body(rest, inner)) if body_only else self.node(rest[0], inner)
        other = self.node(None if body_only or len(rest) == 1 else rest[1], inner)
        test = evaluator.local_node(0, 1)
        return evaluator.parallel_let_node(
            [self.node(value, scope)], evaluator.if_node(test, then, other)
        )

    def when_let(self: Compiler, form: Seq, scope: Scope) -> Node:
        return self.if_let(form, scope, body_only=True)

    def try_(self: Compiler, form: Seq, scope: Scope) -> Node:
        """``(try body... (catch [name predicate] handler...)... (finally cleanup...)?)``."""
        body, catches, cleanup = [], [], None
        for clause in form.items[1:]:
            head = clause.items[0] if is_seq(clause, "(") and clause.items else None
            if head == Symbol("catch") and cleanup is None:
                if len(clause.items) < 2:
                    raise SyntaxAt("expected (catch [name predicate] handler...)", clause.pos)
                name, predicate = _binding(
                    clause.items[1], "(catch [name predicate] ...)", clause.pos
                )
                inner = (*scope, [name])
                test = self.node(thread_step(predicate, Symbol(name), False, clause.pos), inner)
                catches.append((test, node(self.body(clause.items[2:], inner))))
            elif head == Symbol("finally") and cleanup is None:
                cleanup = node(self.body(clause.items[1:], scope))
            elif catches or cleanup is not None:
                raise SyntaxAt("try: catch and finally clauses come after the body", form.pos)
            else:
                body.append(clause)
        return evaluator.try_node(node(self.body(body, scope)), catches, cleanup)

    def lazy_seq(self: Compiler, form: Seq, scope: Scope) -> Node:
        return evaluator.lazy_node(node(self.body(form.items[1:], scope)))

    def thunk(self: Compiler, form: Seq, scope: Scope) -> Node:
        lambda_form = Seq(
            "(", (Symbol("lambda"), Seq("(", (), form.pos), *form.items[1:]), form.pos
        )
        return self.lambda_(lambda_form, scope)

    def for_(self: Compiler, form: Seq, scope: Scope, each: bool = False) -> Node:
        """``(for ([x xs] [y ys]) body...)``: a lazy sequence of the body for every x and y."""
        spec, *body = expect(form, 2, None, "(for ([name seq]...) body...)")
        single = is_seq(spec, "[") and bool(spec.items) and type(spec.items[0]) is Symbol
        bindings = [spec] if single else None
        bindings = bindings or (list(spec.items) if is_seq(spec, "(", "[") else [])
        if not bindings:
            raise SyntaxAt("for needs one or more [name seq] bindings", form.pos)
        name, source = _binding(bindings[0], "(for ([name seq]...) body...)", form.pos)
        if len(bindings) > 1:
            body = [
                Seq("(", (Symbol("for"), Seq("(", tuple(bindings[1:]), form.pos), *body), form.pos)
            ]
        params = Seq("(", (Symbol(name, form.pos),), form.pos)
        function = self.lambda_(Seq("(", (Symbol("lambda"), params, *body), form.pos), scope)
        result = evaluator.comprehension_node(self.node(source, scope), function, len(bindings) > 1)
        return evaluator.last_node(result) if each else result

    def for_each(self: Compiler, form: Seq, scope: Scope) -> Node:
        return self.for_(form, scope, each=True)

    def accessor(self: Compiler, form: Seq, scope: Scope) -> Node:
        """``(: target method args...)`` calls what ``(get target method)`` finds."""
        target, method, *args = expect(form, 2, None, "(: target method args...)")
        found = evaluator.get_node(self.node(target, scope), self.node(method, scope))
        return evaluator.call_node(found, [self.node(arg, scope) for arg in args])

    def label(self: Compiler, form: Seq, scope: Scope) -> Node:
        name, value = expect(form, 2, 2, "(label name form)")
        if type(name) is not Symbol:
            raise SyntaxAt("label needs a name", form.pos)
        return self.recursive([(name.name, value)], [name], scope)

    def letfn(self: Compiler, form: Seq, scope: Scope) -> Node:
        """``(letfn [(lambda-rec name (params) body...)...] body...)``."""
        spec, *body = expect(form, 1, None, "(letfn [(lambda-rec name ...)...] body...)")
        pairs = []
        for binding in spec.items if is_seq(spec, "[", "(") else ():
            if not (
                is_seq(binding, "(") and len(binding.items) > 2 and type(binding.items[1]) is Symbol
            ):
                raise SyntaxAt("letfn bindings are (lambda-rec name (params...) body...)", form.pos)
            pairs.append((binding.items[1].name, binding))
        return self.recursive(pairs, body, scope)


DerivedForms.FORMS.update(
    {
        "cond": DerivedForms.cond,
        "!and": DerivedForms.not_and,
        "!or": DerivedForms.not_or,
        "->": DerivedForms.thread_first,
        "->>": DerivedForms.thread_last,
        "some->": DerivedForms.some_first,
        "some->>": DerivedForms.some_last,
        "cond->": DerivedForms.cond_first,
        "cond->>": DerivedForms.cond_last,
        "let->": DerivedForms.let_thread,
        "case": DerivedForms.case,
        "if-let": DerivedForms.if_let,
        "when-let": DerivedForms.when_let,
        "try": DerivedForms.try_,
        "lazy-seq": DerivedForms.lazy_seq,
        "thunk": DerivedForms.thunk,
        "for": DerivedForms.for_,
        "for-each": DerivedForms.for_each,
        ":": DerivedForms.accessor,
        "label": DerivedForms.label,
        "letfn": DerivedForms.letfn,
    }
)
