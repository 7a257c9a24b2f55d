"""What one run of an Ale script may spend: the step budget, the depth limit, the prices.

The budget counts evaluation steps without a counter in every node. Ale has no
loops, so one run of a body evaluates each of its nodes at most once: a run pays
the node count ("weight") of the script up front, a lambda call pays its body's
weight, and a builtin call pays one step. Builtins that walk data item by item
(``=``, ``contains?``, printing, the result's conversion) pay per item; those that
only copy pay one step per ``COPY_RATE`` items or characters. Lambda calls count
toward ``MAX_DEPTH``, reading caps bracket nesting at ``MAX_DEPTH``, and a
``RecursionError`` that slips through anyway is reported as the depth limit.
"""

from __future__ import annotations

from typing import Any

from argyll.errors import ScriptLimitError

DEFAULT_BUDGET: int = 1_000_000
"""Evaluation steps per run; the costliest runaway found spends about 0.15 s on them."""
MAX_DEPTH: int = 100
"""Lambda call depth and bracket nesting: a few Python frames each, far below the 1000 limit."""

COPY_RATE = 8
"""Elements (or characters) a builtin may copy per budget step."""
SCAN_RATE = 1024
"""Characters two strings may be compared over per budget step."""
CONTAINER_COST = 8
"""Steps to enter a vector, list or object when walking data item by item (~1 µs)."""


class Run:
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
