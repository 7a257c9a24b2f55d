"""Ale, the Lisp of step scripts and predicates: the pure core of kode4food/ale (docs/ale.md).

One module per stage, each importing only the ones before it:

- ``budget``: what a run may spend (steps, depth) and the price of work;
- ``values``: Ale values (keywords, pairs, sets, functions), keys, printing scalars;
- ``reader``: source text to forms, with offsets for error positions;
- ``excluded``: what real Ale has that scripts leave out, and why;
- ``seqs``: lazy sequences, walking any sequence, equality, JSON in and out;
- ``evaluator``: the nodes compiled code is made of, and calling functions;
- ``derived``: the forms Ale defines as macros (threading, ``case``, ``try``...);
- ``compiler``: forms to nodes, the binding forms and literals;
- ``builtins``: the function library by family, registered by name;
- ``program``: ``compile_ale`` and ``AleProgram``, the whole put together.

Callers need only what this package exports.
"""

from argyll.script.ale.budget import DEFAULT_BUDGET, MAX_DEPTH
from argyll.script.ale.program import AleProgram, compile_ale

__all__ = ["DEFAULT_BUDGET", "MAX_DEPTH", "AleProgram", "compile_ale"]
