"""The lazy planner of docs/concepts.md: walk backward from the goals, keep only what they need.

The walk follows the catalog's attribute indexes, so its cost is the size of the
part of the catalog the goals reach, never the catalog's size.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

from argyll.errors import UnknownGoalsError, ValidationError
from argyll.model import AttributeEdges, Catalog, Plan, Role, Step, StepID


def plan(catalog: Catalog, goals: Iterable[str], init: Mapping[str, Any]) -> Plan:
    """The immutable plan for ``goals`` given the attributes ``init`` already holds."""
    goal_ids = tuple(dict.fromkeys(StepID(g) for g in goals))
    unknown = [g for g in goal_ids if g not in catalog.steps]
    if unknown:
        raise UnknownGoalsError(unknown)
    if not goal_ids:
        raise ValidationError([("goals", "name at least one goal step")])
    steps: dict[StepID, Step] = {}
    required: dict[str, None] = {}
    queue = deque(goal_ids)
    while queue:
        step = catalog.steps[queue.popleft()]
        if step.id in steps:
            continue
        steps[step.id] = step
        for name, spec in step.attributes.items():
            if not spec.is_input or name in init:
                continue
            providers = catalog.providers.get(name, ())
            if not providers and spec.role is Role.REQUIRED:
                required[name] = None
            queue.extend(p for p in providers if p not in steps)
    return Plan(goal_ids, tuple(sorted(required)), steps, _edges(steps))


def _edges(steps: Mapping[StepID, Step]) -> dict[str, AttributeEdges]:
    providers: dict[str, list[StepID]] = {}
    consumers: dict[str, list[StepID]] = {}
    for step in steps.values():
        for name in step.outputs:
            providers.setdefault(name, []).append(step.id)
        for name in step.inputs:
            consumers.setdefault(name, []).append(step.id)
    return {
        name: AttributeEdges(tuple(providers.get(name, ())), tuple(consumers.get(name, ())))
        for name in sorted(providers.keys() | consumers.keys())
    }
