"""Catalog deciders: the registration rules of docs/steps.md as pure functions.

Each takes the catalog as folded so far and returns the events to append, or
raises; a refused change appends nothing. Script compilation is checked by the
caller (it needs the script engines), everything else is decided here.
"""

from __future__ import annotations

from argyll.errors import ConflictError, NotFoundError, ValidationError
from argyll.events import (
    EventData,
    StepHealthChanged,
    StepRegistered,
    StepUnregistered,
    StepUpdated,
)
from argyll.model import AttrType, Catalog, HealthStatus, Step, StepID


def on_register(catalog: Catalog, step: Step, actor: str | None = None) -> list[EventData]:
    """Register a new step; the same definition again decides nothing."""
    existing = catalog.steps.get(step.id)
    if existing == step:
        return []
    if existing is not None:
        raise ConflictError(
            f"step {step.id!r} already exists with a different definition; update it instead"
        )
    _check_fits(catalog, step)
    return [StepRegistered(step, actor)]


def on_update(catalog: Catalog, step: Step, actor: str | None = None) -> list[EventData]:
    existing = catalog.steps.get(step.id)
    if existing is None:
        raise NotFoundError("step", step.id)
    if existing == step:
        return []
    _check_fits(catalog, step)
    return [StepUpdated(step, actor)]


def on_unregister(catalog: Catalog, step_id: str, actor: str | None = None) -> list[EventData]:
    if step_id not in catalog.steps:
        raise NotFoundError("step", step_id)
    return [StepUnregistered(StepID(step_id), actor)]


def _check_fits(catalog: Catalog, step: Step) -> None:
    problems = _type_clashes(catalog, step)
    cycle = find_cycle(catalog, step)
    if cycle:
        problems.append(("attributes", "dependency cycle: " + " ".join(cycle)))
    composition = find_composition_cycle(catalog, step)
    if composition:
        problems.append(("flow.goals", "recursive composition: " + " -> ".join(composition)))
    if problems:
        raise ValidationError(problems)


def _type_clashes(catalog: Catalog, step: Step) -> list[tuple[str, str]]:
    problems = []
    for name, spec in step.attributes.items():
        if spec.collect.gathers:
            if spec.type not in (AttrType.ARRAY, AttrType.ANY):
                reason = f"collect {spec.collect} gives an array: the type must be array or any"
                problems.append((f"attributes.{name}.type", reason))
            continue
        if spec.type is AttrType.ANY:
            continue
        known, owner = catalog.attribute_type(name, ignore=step.id)
        if known is not AttrType.ANY and known is not spec.type:
            problems.append(
                (
                    f"attributes.{name}.type",
                    f"{spec.type} conflicts with type {known} declared by step {owner!r}",
                )
            )
    return problems


def find_cycle(catalog: Catalog, step: Step) -> list[str]:
    """A dependency path from ``step`` back to itself if adding it closes one, else [].

    Only what ``step`` reaches through its outputs is visited. The path alternates
    step ids and the attributes that link them: ``a -[x]-> b -[y]-> a``.
    """
    steps = {**catalog.steps, step.id: step}
    parents: dict[StepID, tuple[StepID, str]] = {}
    stack = [step.id]
    while stack:
        current = steps[stack.pop()]
        for name in current.outputs:
            for consumer in _consumers(catalog, step, name):
                if consumer == step.id:
                    return _path(parents, current.id, name, step.id)
                if consumer not in parents:
                    parents[consumer] = (current.id, name)
                    stack.append(consumer)
    return []


def _consumers(catalog: Catalog, step: Step, name: str) -> list[StepID]:
    others = [c for c in catalog.consumers.get(name, ()) if c != step.id]
    spec = step.attributes.get(name)
    return [*others, step.id] if spec is not None and spec.is_input else others


def _path(
    parents: dict[StepID, tuple[StepID, str]], last: StepID, name: str, start: StepID
) -> list[str]:
    hops = [f"-[{name}]-> {start}"]
    node = last
    while node != start:
        parent, attr = parents[node]
        hops.append(f"-[{attr}]-> {node}")
        node = parent
    return [start, *reversed(hops)]


def find_composition_cycle(catalog: Catalog, step: Step) -> list[str]:
    """A chain of sub-flows from ``step`` back to itself through their goals, else [].

    The catalog had none before, so a new one passes through ``step``: only the
    flow steps it reaches are visited. The chain reads ``flow a -> flow b -> a``.
    """
    steps = {**catalog.steps, step.id: step}
    parents: dict[StepID, StepID] = {}
    stack = [step.id]
    while stack:
        current = steps.get(stack.pop())
        for goal in current.flow.goals if current is not None and current.flow else ():
            if goal == step.id:
                return _chain(parents, current.id, step.id)
            if goal not in parents:
                parents[goal] = current.id
                stack.append(goal)
    return []


def _chain(parents: dict[StepID, StepID], last: StepID, start: StepID) -> list[str]:
    hops = [f"flow {last}"]
    node = last
    while node != start:
        node = parents[node]
        hops.append(f"flow {node}")
    return [*reversed(hops), start]


def on_health(
    catalog: Catalog, step_id: str, status: HealthStatus, error: str | None
) -> list[EventData]:
    """Record a probe's result only when the step's health changes (and it still exists)."""
    current = catalog.health.get(StepID(step_id))
    if step_id not in catalog.steps or (current is not None and current.status is status):
        return []
    return [StepHealthChanged(StepID(step_id), status.value, error)]
