"""What became of one attempt of a work item: the triggers ``decide.on_work_outcome`` records.

The runtime (an HTTP call, a script, a child flow, a webhook, a memo lookup) turns
what happened into one of these values; the decider decides what follows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from argyll.model import FlowID


@dataclass(frozen=True, slots=True)
class Succeeded:
    outputs: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Failed:
    """A permanent failure: HTTP 4xx, a failure posted to a webhook, a script error."""

    error: str


@dataclass(frozen=True, slots=True)
class NotCompleted:
    """A transient failure (transport error, timeout, 5xx): retried with backoff."""

    error: str


@dataclass(frozen=True, slots=True)
class Memoized:
    """A memo hit: the outputs the ``work_succeeded`` at ``seq`` of flow ``flow_id`` recorded.

    Nothing was called; the item succeeds with those outputs and names where they came from.
    """

    outputs: Mapping[str, Any]
    flow_id: FlowID
    seq: int


Outcome = Succeeded | Memoized | Failed | NotCompleted
