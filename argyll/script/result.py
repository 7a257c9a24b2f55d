"""What a script's value means to the engine (docs/steps.md), the same for Ale and Lua."""

from __future__ import annotations

from typing import Any


def as_outputs(value: Any) -> dict[str, Any]:
    """An object gives the step's outputs; any other value gives ``{"result": value}``."""
    if isinstance(value, dict):
        return value
    return {"result": value}


def is_truthy(value: Any) -> bool:
    """Predicates pass unless the value is false or null."""
    return value is not None and value is not False
