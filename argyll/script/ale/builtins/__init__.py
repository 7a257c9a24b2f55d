"""The Ale function library, one module per family, registered by name in ``BUILTINS``.

- ``numbers``: arithmetic and comparison;
- ``predicates``: the ``…?`` tests and their ``!…?`` negations, ``is-a``;
- ``sequences``: lists, vectors and lazy sequences;
- ``collections``: objects and sets;
- ``functions``: higher-order functions, strings, raising and recovering.
"""

from __future__ import annotations

from argyll.script.ale.builtins import collections, functions, numbers, predicates, sequences
from argyll.script.ale.builtins.registry import BUILTINS

__all__ = ["BUILTINS", "collections", "functions", "numbers", "predicates", "sequences"]
