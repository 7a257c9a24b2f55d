"""Ale, the small Lisp of step scripts and predicates (see ALE.md).

One module per stage, each importing only the ones before it:

- ``budget``: what a run may spend (steps, depth) and the price of work;
- ``values``: Ale values, their conversion from and to JSON, equality, printing;
- ``reader``: source text to forms, with offsets for error positions;
- ``evaluator``: the nodes compiled code is made of, and calling functions;
- ``compiler``: forms to nodes, the special forms;
- ``builtins``: the function library, registered by name;
- ``program``: ``compile_ale`` and ``AleProgram``, the whole put together.

Callers need only what this package exports.
"""

from argyll.script.ale.budget import DEFAULT_BUDGET, MAX_DEPTH
from argyll.script.ale.program import AleProgram, compile_ale

__all__ = ["DEFAULT_BUDGET", "MAX_DEPTH", "AleProgram", "compile_ale"]
