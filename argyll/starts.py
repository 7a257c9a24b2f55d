"""The checks of a flow start's arguments that the model's parsing does not make.

A Python caller may pass anything; these name the argument at fault as the HTTP API does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from argyll.errors import ValidationError
from argyll.model import ID_PATTERN, json_text


def goal_list(goals: Iterable[str]) -> list[str]:
    if isinstance(goals, str):
        return [goals]
    return list(goals)


def check_timeout(timeout: int | None) -> None:
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 1
    ):
        raise ValidationError(
            [("timeout", f"must be a whole number of milliseconds >= 1, got {json_text(timeout)}")]
        )


def check_labels(labels: Mapping[str, str] | None) -> None:
    wrong = [
        (f"labels.{key}", f"must be a string, got {json_text(value)}")
        for key, value in (labels or {}).items()
        if not isinstance(key, str) or not isinstance(value, str)
    ]
    if wrong:
        raise ValidationError(wrong)


def check_flow_id(flow_id: str | None) -> None:
    if flow_id is not None and (not isinstance(flow_id, str) or not ID_PATTERN.fullmatch(flow_id)):
        raise ValidationError(
            [("id", f"flow ids must match [A-Za-z0-9_.-]+, got {json_text(flow_id)}")]
        )
