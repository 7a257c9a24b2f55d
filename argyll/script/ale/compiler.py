"""The Ale compiler: forms to a tree of evaluator nodes, the binding forms and literals.

Compiling resolves every local to its frame slot, folds literal vectors and
objects into constants built once, collects the free (global) names a script
uses with the offset of their first use, and counts the weight (node count) a
run or a lambda call pays up front. Special forms are methods listed in
``SPECIAL_FORMS``; the ones Ale defines as macros over these (threading, ``case``,
``try`` ...) live in ``derived`` and compile directly rather than expand.

A body (a script, a lambda's, a let's) whose forms ``define`` names gets one frame
holding all of them before any runs, so definitions may refer to each other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from argyll.script.ale import evaluator
from argyll.script.ale.derived import DerivedForms, Threaded, expect, is_seq
from argyll.script.ale.evaluator import Compiled, Const, node
from argyll.script.ale.reader import Seq, SyntaxAt
from argyll.script.ale.values import MISSING, Cons, Node, Symbol, key_name, make_list, set_of


class RecFrame(list[str]):
    """The names of a frame whose slots start unset (``define``, ``let-rec``)."""


Scope = tuple[list[str], ...]
"""Names of the enclosing frames at compile time, innermost last."""

_DEFINERS = frozenset({"define", "define-lambda", "declare"})


def _datum(form: Any, pos: int) -> Any:
    """The value of a quoted form."""
    kind = type(form)
    if kind is Threaded:
        raise SyntaxAt("cannot quote a threaded value", pos)
    if kind is not Seq:
        return form
    items = [_datum(item, form.pos) for item in form.items]
    if form.opener == "(":
        if form.tail is not MISSING:
            value = _datum(form.tail, form.pos)
            for item in reversed(items):
                value = Cons(item, value)
            return value
        return make_list(items)
    if form.opener == "[":
        return items
    if form.opener == "#{":
        return set_of(items)
    return _static_object(items[::2], items[1::2], form.pos)


def _static_object(keys: list[Any], values: list[Any], pos: int) -> dict[Any, Any]:
    names = [key_name(key) for key in keys]
    if None in names:
        raise SyntaxAt("object keys must be keywords, strings or numbers", pos)
    return dict(zip(names, values, strict=True))


def _binding_pairs(spec: Any, pos: int) -> list[tuple[str, Any]]:
    """Accept ``([x 1] [y 2])``, ``((x 1))``, ``[[x 1]]`` and the flat ``[x 1 y 2]``."""
    if not is_seq(spec, "(", "["):
        raise SyntaxAt("let bindings must be a list or a vector", pos)
    items = spec.items
    if spec.opener == "[" and items and type(items[0]) is Symbol:
        if len(items) % 2:
            raise SyntaxAt("let binding without a value", spec.pos)
        pairs = list(zip(items[::2], items[1::2], strict=True))
    elif all(is_seq(item, "(", "[") and len(item.items) == 2 for item in items):
        pairs = [item.items for item in items]
    else:
        raise SyntaxAt("let bindings must be [name value] pairs", spec.pos)
    if any(type(name) is not Symbol for name, _ in pairs):
        raise SyntaxAt("let binding names must be symbols", spec.pos)
    return [(name.name, value) for name, value in pairs]


def _params(params: Any, pos: int) -> tuple[list[str], bool]:
    """Parameter names and whether the last takes the rest: ``(x y)``, ``[x y]``,
    ``(x . more)``, or one symbol for all the arguments."""
    if type(params) is Symbol:
        return [params.name], True
    if not is_seq(params, "(", "["):
        raise SyntaxAt("lambda parameters must be a list of symbols", pos)
    names = [*params.items, *([] if params.tail is MISSING else [params.tail])]
    if any(type(name) is not Symbol for name in names):
        raise SyntaxAt("lambda parameters must be a list of symbols", pos)
    result = [name.name for name in names]
    if len(set(result)) != len(result):
        raise SyntaxAt("lambda parameters must be distinct", pos)
    return result, params.tail is not MISSING


def _defined_names(forms: Iterable[Any]) -> list[str]:
    """The names a body's ``define``, ``define-lambda`` and ``declare`` forms bind."""
    names: list[str] = []
    for form in forms:
        if not (is_seq(form, "(") and form.items and type(form.items[0]) is Symbol):
            continue
        head, *args = form.items
        if head.name not in _DEFINERS or not args:
            continue
        targets = args if head.name == "declare" else args[:1]
        for target in targets:
            name = target.items[0] if is_seq(target, "(") and target.items else target
            if type(name) is not Symbol:
                raise SyntaxAt(f"{head.name} needs a name", form.pos)
            if name.name not in names:
                names.append(name.name)
    return names


class Compiler(DerivedForms):
    """Turns forms into nodes, collecting the free (global) names the script uses and
    the weight (node count) of the code outside any lambda body. With ``fast``, calls
    of some builtins by name go straight to them (see ``evaluator.fast_call_node``)."""

    def __init__(self, fast: bool = True) -> None:
        self.free: dict[str, int] = {}
        self.weight = 0
        self.fast = fast

    def compile(self, form: Any, scope: Scope) -> Compiled:
        self.weight += 1
        kind = type(form)
        if kind is Symbol:
            return self.symbol(form, scope)
        if kind is Threaded:
            return form.compiled
        if kind is not Seq:
            return Const(form)
        if form.opener == "[":
            return self.vector_literal(form, scope)
        if form.opener == "{":
            return self.object_literal(form, scope)
        if form.opener == "#{":
            return self.set_literal(form, scope)
        if form.tail is not MISSING:
            return self.pair_literal(form, scope)
        return self.combination(form, scope)

    def node(self, form: Any, scope: Scope) -> Node:
        return node(self.compile(form, scope))

    def body(self, forms: Iterable[Any], scope: Scope) -> Compiled:
        """A sequence of forms, worth the last one; null when empty."""
        forms = list(forms)
        defined = _defined_names(forms)
        if defined:
            frame = RecFrame(defined)
            inner = (*scope, frame)
            parts = [self.node(form, inner) for form in forms]
            return evaluator.recursive_frame_node(len(frame), evaluator.sequence_node(parts))
        parts = [self.compile(form, scope) for form in forms]
        if len(parts) <= 1:
            return parts[0] if parts else Const(None)
        return evaluator.sequence_node([node(part) for part in parts])

    def symbol(self, form: Symbol, scope: Scope) -> Node:
        name = form.name
        for depth, names in enumerate(reversed(scope)):
            for slot in range(len(names), 0, -1):
                if names[slot - 1] == name:
                    if type(names) is RecFrame:
                        return evaluator.checked_local_node(depth, slot, name)
                    return evaluator.local_node(depth, slot)
        self.free.setdefault(name, form.pos)
        return evaluator.global_node(name)

    def vector_literal(self, form: Seq, scope: Scope) -> Compiled:
        parts = [self.compile(item, scope) for item in form.items]
        if all(type(part) is Const for part in parts):
            self.weight -= len(parts)  # folded into this one constant
            return Const([part.value for part in parts])
        return evaluator.vector_node([node(part) for part in parts])

    def set_literal(self, form: Seq, scope: Scope) -> Compiled:
        parts = [self.node(item, scope) for item in form.items]
        return evaluator.set_node(parts)

    def pair_literal(self, form: Seq, scope: Scope) -> Node:
        """``(a b . c)`` evaluates its parts and pairs them: ``(cons a (cons b c))``."""
        value = self.node(form.tail, scope)
        for item in reversed(form.items):
            value = evaluator.cons_node(self.node(item, scope), value)
        return value

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
            return Const(None)
        head, *args = form.items
        if type(head) is Symbol and not _is_local(head, scope):
            if head.name in SPECIAL_FORMS:
                return SPECIAL_FORMS[head.name](self, form, scope)
            self.weight += 1
            self.free.setdefault(head.name, head.pos)
            if self.fast and len(args) == 2 and head.name in evaluator.FAST_CALLS:
                parts = [self.compile(arg, scope) for arg in args]
                return evaluator.fast_call_node(*evaluator.FAST_CALLS[head.name], *parts)
            nodes = [self.node(arg, scope) for arg in args]
            return evaluator.global_call_node(head.name, nodes)
        return evaluator.call_node(self.node(head, scope), [self.node(arg, scope) for arg in args])

    # -- special forms

    def quote(self, form: Seq, scope: Scope) -> Compiled:
        (datum,) = expect(form, 1, 1, "(quote form)")
        return Const(_datum(datum, form.pos))

    def if_(self, form: Seq, scope: Scope, negate: bool = False) -> Node:
        test, then, *other = expect(form, 2, 3, "(if test then else?)")
        branches = [self.node(then, scope), self.node(other[0] if other else None, scope)]
        if negate:
            branches.reverse()
        return evaluator.if_node(self.node(test, scope), *branches)

    def unless(self, form: Seq, scope: Scope) -> Node:
        return self.if_(form, scope, negate=True)

    def when(self, form: Seq, scope: Scope, negate: bool = False) -> Node:
        test, *body = expect(form, 1, None, "(when test body...)")
        branches = [node(self.body(body, scope)), node(Const(None))]
        if negate:
            branches.reverse()
        return evaluator.if_node(self.node(test, scope), *branches)

    def when_not(self, form: Seq, scope: Scope) -> Node:
        return self.when(form, scope, negate=True)

    def and_(self, form: Seq, scope: Scope) -> Node:
        return evaluator.and_node([self.node(part, scope) for part in form.items[1:]])

    def or_(self, form: Seq, scope: Scope) -> Node:
        return evaluator.or_node([self.node(part, scope) for part in form.items[1:]])

    def let(self, form: Seq, scope: Scope) -> Node:
        """Ale's ``let`` binds in parallel: no init sees the names being bound."""
        bindings, *body = expect(form, 1, None, "(let bindings body...)")
        pairs = _binding_pairs(bindings, form.pos)
        frame: list[str] = []
        inner = (*scope, frame)
        inits = [self.node(init, inner) for _, init in pairs]
        frame.extend(name for name, _ in pairs)
        return evaluator.parallel_let_node(inits, node(self.body(body, inner)))

    def let_star(self, form: Seq, scope: Scope) -> Node:
        """Each binding sees the ones before it."""
        bindings, *body = expect(form, 1, None, "(let* bindings body...)")
        frame: list[str] = []
        inner = (*scope, frame)
        inits = []
        for name, init in _binding_pairs(bindings, form.pos):
            inits.append(self.node(init, inner))
            frame.append(name)
        return evaluator.let_node(inits, node(self.body(body, inner)))

    def let_rec(self, form: Seq, scope: Scope) -> Node:
        """Every binding sees all of them (for functions that call each other)."""
        bindings, *body = expect(form, 1, None, "(let-rec bindings body...)")
        pairs = _binding_pairs(bindings, form.pos)
        return self.recursive(pairs, body, scope)

    def recursive(self, pairs: list[tuple[str, Any]], body: list[Any], scope: Scope) -> Node:
        frame = RecFrame(name for name, _ in pairs)
        inner = (*scope, frame)
        parts = [
            evaluator.assign_node(slot, self.node(init, inner))
            for slot, (_, init) in enumerate(pairs, start=1)
        ]
        parts.append(node(self.body(body, inner)))
        return evaluator.recursive_frame_node(len(frame), evaluator.sequence_node(parts))

    def lambda_(self, form: Seq, scope: Scope, name: str = "") -> Node:
        params, *body = expect(form, 1, None, "(lambda (params...) body...)")
        if is_seq(params, "[") and params.items and is_seq(params.items[0], "("):
            return self.lambda_cases(form.items[1:], scope, name, form.pos)  # [(x) ...] [(x y) ...]
        return self.lambda_case(params, body, scope, name, form.pos)

    def lambda_cases(self, clauses: Iterable[Any], scope: Scope, name: str, pos: int) -> Node:
        cases = []
        for clause in clauses:
            if not (is_seq(clause, "[") and clause.items):
                raise SyntaxAt("each case of a lambda is [(params...) body...]", pos)
            params, *body = clause.items
            cases.append(self.lambda_case(params, body, scope, name, clause.pos))
        return evaluator.cases_node(cases)

    def lambda_case(self, params: Any, body: list[Any], scope: Scope, name: str, pos: int) -> Node:
        names, rest = _params(params, pos)
        outer, self.weight = self.weight, 0
        compiled = node(self.body(body, (*scope, names)))
        weight, self.weight = self.weight, outer
        return evaluator.lambda_node(len(names) - rest, compiled, weight, rest, name)

    def lambda_rec(self, form: Seq, scope: Scope) -> Node:
        """``(lambda-rec name (params) body...)``: a lambda that can call itself by name."""
        name, *rest = expect(form, 2, None, "(lambda-rec name (params...) body...)")
        if type(name) is not Symbol:
            raise SyntaxAt("lambda-rec needs a name", form.pos)
        function = Seq("(", (Symbol("lambda"), *rest), form.pos)
        frame = RecFrame([name.name])
        inner = (*scope, frame)
        value = self.lambda_(function, inner, name.name)
        body = evaluator.assign_node(1, value)
        return evaluator.recursive_frame_node(1, body)

    def define(self, form: Seq, scope: Scope) -> Node:
        """``(define name value)`` or ``(define (name params...) body...)``, in a body's frame."""
        target, *rest = expect(form, 1, None, "(define name value)")
        if is_seq(target, "(") and target.items:
            name = target.items[0]
            slot = _definition_slot(name, scope, form.pos)
            params = Seq("(", target.items[1:], target.pos, target.tail)
            value = self.lambda_case(params, rest, scope, name.name, form.pos)
        else:
            if len(rest) != 1:
                raise SyntaxAt("expected (define name value)", form.pos)
            slot = _definition_slot(target, scope, form.pos)
            value = self.node(rest[0], scope)
        return evaluator.assign_node(slot, value)

    def define_lambda(self, form: Seq, scope: Scope) -> Node:
        target, *rest = expect(form, 2, None, "(define-lambda name (params...) body...)")
        if is_seq(target, "("):
            return self.define(form, scope)
        slot = _definition_slot(target, scope, form.pos)
        value = self.lambda_(Seq("(", (Symbol("lambda"), *rest), form.pos), scope, target.name)
        return evaluator.assign_node(slot, value)

    def declare(self, form: Seq, scope: Scope) -> Const:
        return Const(None)  # the body's frame already holds the names

    def begin(self, form: Seq, scope: Scope) -> Compiled:
        return self.body(form.items[1:], scope)


def _definition_slot(name: Any, scope: Scope, pos: int) -> int:
    """The slot of a body's frame a ``define`` sets; a define elsewhere is an error."""
    if type(name) is not Symbol:
        raise SyntaxAt("define needs a name", pos)
    if not scope or type(scope[-1]) is not RecFrame or name.name not in scope[-1]:
        raise SyntaxAt("define belongs at the top of a body (a script, function or let)", pos)
    return scope[-1].index(name.name) + 1


def _is_local(head: Symbol, scope: Scope) -> bool:
    return any(head.name in names for names in scope)


SPECIAL_FORMS: dict[str, Callable[[Compiler, Seq, Scope], Compiled]] = {
    "quote": Compiler.quote,
    "if": Compiler.if_,
    "unless": Compiler.unless,
    "when": Compiler.when,
    "when-not": Compiler.when_not,
    "and": Compiler.and_,
    "or": Compiler.or_,
    "let": Compiler.let,
    "let*": Compiler.let_star,
    "let-rec": Compiler.let_rec,
    "lambda": Compiler.lambda_,
    "fn": Compiler.lambda_,
    "λ": Compiler.lambda_,
    "lambda-rec": Compiler.lambda_rec,
    "define": Compiler.define,
    "define-lambda": Compiler.define_lambda,
    "declare": Compiler.declare,
    "begin": Compiler.begin,
    **DerivedForms.FORMS,
}
