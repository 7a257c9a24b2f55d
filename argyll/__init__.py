"""Argyll: a goal-driven orchestrator that records every state change as an event.

``Engine`` is imported on first use, so the pure core (``argyll.model``,
``argyll.planner``, ...) can be imported without loading the runtime.
"""

from typing import TYPE_CHECKING, Any

from argyll.errors import (
    ArgyllError,
    ConflictError,
    MissingInputsError,
    NotFoundError,
    ValidationError,
)

if TYPE_CHECKING:
    from argyll.runtime.engine import Engine

__version__ = "0.1.0"

__all__ = [
    "ArgyllError",
    "ConflictError",
    "Engine",
    "MissingInputsError",
    "NotFoundError",
    "ValidationError",
    "__version__",
]


def __getattr__(name: str) -> Any:
    if name == "Engine":
        from argyll.runtime.engine import Engine

        return Engine
    raise AttributeError(f"module 'argyll' has no attribute {name!r}")
