"""``python -m argyll``: the same as the ``argyll`` command.

Run from the parent of a checkout named ``argyll``, ``python -m`` finds the
checkout first (the current directory leads ``sys.path``); having no
``__init__.py``, it becomes a namespace package that hides the installed one,
and every import from ``argyll`` would fail. Say so instead.
"""

import argyll

if getattr(argyll, "__file__", None) is None:
    shadow = ", ".join(argyll.__path__)
    raise SystemExit(
        f"argyll: the directory {shadow} hides the argyll package: python -m imports from the "
        "current directory first, and that directory (a checkout of the repository?) has no "
        "__init__.py. Run from another directory, or run the argyll command."
    )

from argyll.cli import main

main()
