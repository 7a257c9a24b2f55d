"""A compiled Ale script, and compiling one: the reader, compiler and library put together.

``compile_ale`` reads the source once into forms and compiles them into a tree of
evaluator nodes; ``AleProgram.run`` evaluates that tree against JSON-like bindings,
converting the inputs it names in and its value out. ``AleProgram.unbound`` lists
the names a script uses that are neither its own, a builtin, nor one it is given:
registration refuses a step whose script has any.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from argyll.errors import ScriptLimitError, ScriptSyntaxError
from argyll.script.ale.budget import DEFAULT_BUDGET, MAX_DEPTH, Run
from argyll.script.ale.builtins import BUILTINS
from argyll.script.ale.compiler import Compiler
from argyll.script.ale.evaluator import node, unbound_message
from argyll.script.ale.reader import SyntaxAt, position, read
from argyll.script.ale.seqs import to_ale, to_json
from argyll.script.ale.values import Node


@dataclass(frozen=True, slots=True)
class Unbound:
    """A name a script uses that nothing binds, where it is first used, and why."""

    name: str
    line: int
    column: int
    message: str


class AleProgram:
    """A compiled Ale script; immutable, so one program may run any number of times."""

    __slots__ = ("_free", "_inputs", "_node", "_plain", "_scope", "_weight", "source")

    def __init__(self, source: str, node: Node, weight: int, free: dict[str, int]) -> None:
        self.source = source
        self._node, self._weight = node, weight
        self._free = free
        self._inputs = tuple(sorted(name for name in free if name not in BUILTINS))
        self._scope = {name: BUILTINS[name] for name in free if name in BUILTINS}
        self._plain: Node | None = None
        """The tree compiled without fast paths, for runs whose inputs shadow a builtin."""

    def __repr__(self) -> str:
        return f"AleProgram({self.source!r})"

    def unbound(self, given: Iterable[str]) -> list[Unbound]:
        """The free names that are neither builtins nor ``given``, in source order."""
        allowed = set(given)
        missing = [
            (pos, name)
            for name, pos in self._free.items()
            if name not in BUILTINS and name not in allowed
        ]
        return [
            Unbound(name, *position(self.source, max(pos, 0)), unbound_message(name))
            for pos, name in sorted(missing)
        ]

    def run(self, bindings: Mapping[str, Any], *, budget: int = DEFAULT_BUDGET) -> Any:
        """Evaluate with ``bindings`` as symbols and return the value as JSON-like data."""
        scope = dict(self._scope)
        tree = self._node
        try:
            if scope and not scope.keys().isdisjoint(bindings):
                tree = self._shadowing()
                scope.update((name, to_ale(bindings[name])) for name in scope if name in bindings)
            for name in self._inputs:
                if name in bindings:
                    scope[name] = to_ale(bindings[name])
            run = Run(budget, scope)
            run.charge(self._weight)
            return to_json(tree(None, run), run)
        except RecursionError:
            raise ScriptLimitError("depth", MAX_DEPTH) from None

    def _shadowing(self) -> Node:
        if self._plain is None:
            self._plain = node(Compiler(fast=False).body(read(self.source), ()))
        return self._plain


def compile_ale(source: str) -> AleProgram:
    """Read and compile a script of one or more forms (its value is the last one's)."""
    compiler = Compiler()
    try:
        compiled = node(compiler.body(read(source), ()))
    except SyntaxAt as error:
        raise ScriptSyntaxError(error.message, *position(source, error.pos)) from None
    except RecursionError:
        raise ScriptLimitError("depth", MAX_DEPTH) from None
    return AleProgram(source, compiled, compiler.weight, compiler.free)
