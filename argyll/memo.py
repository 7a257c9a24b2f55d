"""Memoization: the key a memoizable step's work item is looked up by, and what is kept.

A memo entry lives in the store (``argyll.store.base.Memos``), so every engine on
the store shares it and it survives restarts. Its key is the SHA-256 of one
canonical JSON text (sorted keys, no whitespace) holding:

- the step's definition as it is read back, without ``name`` and ``labels`` (they
  name and sort a step; every other field can change what it returns, so any
  change of the step gives other keys);
- the work item's inputs, without the step's meta inputs (the flow's id, a receipt
  token, ... differ on every call and would make every key new). A whole number
  written as a float (``2.0``) counts as the integer (``2``): JSON does not tell
  them apart.

Only successes are kept, each naming the flow and the seq of the ``work_succeeded``
event that produced it; a hit is recorded as a ``work_succeeded`` that names them.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from argyll.events import Event, WorkSucceeded
from argyll.model import FlowState, Step, StepID

NOT_IN_KEY = ("name", "labels")
"""The fields of a step definition that cannot change its results."""

_canonical_json = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
).encode


@dataclass(frozen=True, slots=True)
class Memo:
    """A memoized result: the step's outputs and the event that first produced them."""

    step_id: StepID
    outputs: Mapping[str, Any]
    flow_id: str
    seq: int
    """The seq, in ``flow:<flow_id>``, of the ``work_succeeded`` that produced the outputs."""
    created_at: datetime


def memo_key(step: Step, inputs: Mapping[str, Any]) -> str:
    """The hex SHA-256 a work item of ``step`` with ``inputs`` is memoized under."""
    definition = {k: v for k, v in step.to_dict().items() if k not in NOT_IN_KEY}
    meta = step.meta_inputs
    kept = {name: value for name, value in inputs.items() if name not in meta}
    text = _canonical_json(_canonical({"step": definition, "inputs": kept}))
    return hashlib.sha256(text.encode()).hexdigest()


def _canonical(value: Any) -> Any:
    """``value`` with whole floats as integers, so equal JSON numbers give equal text."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {key: _canonical(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    return value


def memo_entries(state: FlowState, stored: Iterable[Event]) -> list[tuple[str, Memo]]:
    """The results to memoize among ``stored``, the flow's events just appended.

    A ``work_succeeded`` of a memoizable step that is not itself a memo hit is kept,
    keyed by the step as the flow's plan holds it and the item's inputs.
    """
    entries = []
    for event in stored:
        data = event.data
        if not isinstance(data, WorkSucceeded) or data.memo is not None:
            continue
        step = state.plan.steps.get(data.step_id)
        execution = state.executions.get(data.step_id)
        item = execution.work_items.get(data.token) if execution else None
        if step is None or not step.memoizable or item is None:
            continue
        memo = Memo(step.id, dict(data.outputs), state.id, event.seq, event.timestamp)
        entries.append((memo_key(step, item.inputs), memo))
    return entries
