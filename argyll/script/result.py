"""What a script's value means to the engine (docs/steps.md), the same for Ale and Lua."""

from __future__ import annotations

from enum import Enum
from typing import Any, Final


class Nothing(Enum):
    """What a script evaluated for its value yields when it has none (``None`` is JSON null)."""

    NOTHING = "nothing"


NOTHING: Final = Nothing.NOTHING
"""A jpath mapping that selects no node (``argyll.script.jpath`` answers it): no value at all,
not null. Defined here, in the pure core, so the deciders can tell it from a value."""


def as_outputs(value: Any) -> dict[str, Any]:
    """An object gives the step's outputs; any other value gives ``{"result": value}``."""
    if isinstance(value, dict):
        return value
    return {"result": value}


def is_truthy(value: Any) -> bool:
    """Predicates pass unless the value is false or null."""
    return value is not None and value is not False
