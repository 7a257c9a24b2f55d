"""Shared helpers of the Ale tests."""

from __future__ import annotations

from typing import Any

from argyll.script.ale import DEFAULT_BUDGET, compile_ale


def ale(source: str, budget: int = DEFAULT_BUDGET, **bindings: Any) -> Any:
    return compile_ale(source).run(bindings, budget=budget)


def ale_string(text: str) -> str:
    """``text`` written as an Ale string literal."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\n").replace("\t", "\\t") + '"'
