"""The lazy planner of docs/concepts.md: walk backward from the goals, keep only what they need.

The walk follows the catalog's attribute indexes, so its cost is the size of the
part of the catalog the goals reach, never the catalog's size.

Provider choice (docs/concepts.md "Plans"): of the providers of an input, those
that can run are planned and the others are listed in ``excluded.missing``; when
none of a required input's providers can run, every one of them is planned
(Part 1's rule), so ``required`` names what the user would have to supply at the
root of the chain. Whether a step can run depends only on init and the catalog,
so each step's verdict is computed once per plan.

A ``type: "flow"`` step's child plan is planned with it: its init is what the
step maps in (every input, const and meta, under its inner name), and what the
child still requires becomes the parent's requirement too, since nothing else
reaches a child flow.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping, Set
from dataclasses import dataclass, field
from typing import Any

from argyll.errors import UnknownGoalsError, ValidationError
from argyll.model import (
    AttributeEdges,
    AttributeSpec,
    Catalog,
    Collect,
    Excluded,
    Plan,
    Role,
    Step,
    StepID,
    json_text,
)


def plan(catalog: Catalog, goals: Iterable[str], init: Mapping[str, Any]) -> Plan:
    """The immutable plan for ``goals`` given the attributes ``init`` already holds."""
    goal_ids = tuple(dict.fromkeys(StepID(g) for g in goals))
    unknown = [g for g in goal_ids if g not in catalog.steps]
    if unknown:
        raise UnknownGoalsError(unknown)
    if not goal_ids:
        raise ValidationError([("goals", "name at least one goal step")])
    return _Walk(_Shared(catalog), frozenset(init), ()).plan(goal_ids)


class PlanCache:
    """Plans already made for one catalog, by goals and the names init holds.

    A plan depends on nothing else (the values in init never change it), and it is an
    immutable value, so flows started for the same goals share one. A new catalog (any
    registration or health change folds into a new one) starts the cache afresh.
    """

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._catalog: Catalog | None = None
        self._plans: dict[tuple[tuple[str, ...], frozenset[str]], Plan] = {}

    def plan(self, catalog: Catalog, goals: Iterable[str], init: Mapping[str, Any]) -> Plan:
        """``plan(catalog, goals, init)``, made once per catalog, goals and init names."""
        if catalog is not self._catalog:
            self._catalog, self._plans = catalog, {}
        key = (tuple(goals), frozenset(init))
        found = self._plans.get(key)
        if found is None:
            found = plan(catalog, key[0], init)
            if len(self._plans) >= self.size:
                self._plans.clear()
            self._plans[key] = found
        return found


def child_init(step: Step) -> frozenset[str]:
    """The names a flow step hands its child: each input, const and meta, by inner name."""
    return frozenset(
        spec.inner_name or name
        for name, spec in step.attributes.items()
        if spec.role is not Role.OUTPUT
    )


@dataclass(frozen=True, slots=True)
class _Verdict:
    """Why a step cannot run (no names: it can)."""

    missing: tuple[str, ...] = ()
    blocked: tuple[str, ...] = ()

    @property
    def runs(self) -> bool:
        return not (self.missing or self.blocked)


_RUNS = _Verdict()


@dataclass
class _Shared:
    """What a plan and its child plans share: a flow step's child plan depends on the
    step alone, so it is planned once however often the step is reached; and each
    step's inputs are looked up once (``Step.inputs`` builds a new dict)."""

    catalog: Catalog
    children: dict[StepID, Plan] = field(default_factory=dict)
    known_inputs: dict[StepID, Mapping[str, AttributeSpec]] = field(default_factory=dict)

    def inputs(self, step: Step) -> Mapping[str, AttributeSpec]:
        found = self.known_inputs.get(step.id)
        if found is None:
            found = self.known_inputs[step.id] = step.inputs
        return found


@dataclass
class _Walk:
    """One plan's walk: the names init holds, and what was learnt on the way."""

    shared: _Shared
    have: Set[str]
    ancestry: tuple[StepID, ...]
    verdicts: dict[StepID, _Verdict] = field(default_factory=dict)
    included: dict[StepID, Step] = field(default_factory=dict)
    reached: dict[StepID, None] = field(default_factory=dict)
    required: dict[str, None] = field(default_factory=dict)

    @property
    def catalog(self) -> Catalog:
        return self.shared.catalog

    def plan(self, goals: tuple[StepID, ...]) -> Plan:
        queue = deque(goals)
        while queue:
            step = self.catalog.steps[queue.popleft()]
            if step.id not in self.included:
                self.included[step.id] = step
                queue.extend(self._include(step))
        known = self.shared.children
        children = {sid: known[sid] for sid in self.included if sid in known}
        return Plan(
            goals,
            tuple(sorted(self.required)),
            self.included,
            _edges(self.included, self.shared.inputs),
            children,
            self._excluded(),
        )

    # ------------------------------------------------------------- inclusion

    def _include(self, step: Step) -> list[StepID]:
        """The providers ``step`` pulls into the plan, noting what it requires."""
        if step.flow is not None:
            child = self._child(step)
            _check_outputs(step, child)
            self.required.update(dict.fromkeys(child.required))
        wanted: list[StepID] = []
        for name, spec in self.shared.inputs(step).items():
            providers = self.catalog.providers.get(name, ())
            self.reached.update(dict.fromkeys(providers))
            if name in self.have and spec.collect in (Collect.FIRST, Collect.NONE):
                continue
            chosen = self._choose(providers, spec.collect)
            fallback = spec.role is Role.REQUIRED and spec.collect is not Collect.NONE
            if not chosen and fallback and name not in self.have:
                chosen = [p for p in providers if not self._verdict(p).blocked]
                if not chosen:
                    self.required[name] = None
            wanted.extend(p for p in chosen if p not in self.included)
        return wanted

    def _choose(self, providers: tuple[StepID, ...], collect: Collect) -> list[StepID]:
        """The providers that can run; for ``collect: all``, every provider or none."""
        runnable = [p for p in providers if self._verdict(p).runs]
        if collect is Collect.ALL and len(runnable) != len(providers):
            return []
        return runnable

    def _child(self, step: Step) -> Plan:
        """The child plan of a flow step, refusing a composition that contains itself."""
        if step.id in self.ancestry:
            cycle = " -> ".join(
                f"flow {sid}" for sid in self.ancestry[self.ancestry.index(step.id) :]
            )
            raise ValidationError(
                [(f"steps.{step.id}.flow", f"recursive composition: {cycle} -> {step.id}")]
            )
        if step.id not in self.shared.children:
            goals = tuple(dict.fromkeys(step.flow.goals if step.flow else ()))
            unknown = [g for g in goals if g not in self.catalog.steps]
            if unknown or not goals:
                reason = (
                    "names no registered step: " + ", ".join(unknown) if unknown else "is empty"
                )
                raise ValidationError([(f"steps.{step.id}.flow.goals", reason)])
            walk = _Walk(self.shared, child_init(step), (*self.ancestry, step.id))
            self.shared.children[step.id] = walk.plan(goals)
        return self.shared.children[step.id]

    # ------------------------------------------------------------- verdicts

    def _verdict(self, root: StepID) -> _Verdict:
        """Whether ``root`` can run, deciding its providers first (without recursion).

        ``visiting`` holds each step on the way down with its needs; a provider met
        again while it is still on the way down (a cycle) counts as unable to run.
        """
        known = self.verdicts.get(root)
        if known is not None:
            return known
        stack = [root]
        visiting: dict[StepID, list[str]] = {}
        while stack:
            sid = stack[-1]
            if sid in self.verdicts:
                stack.pop()
                continue
            step = self.catalog.steps[sid]
            needs = visiting.get(sid)
            if needs is None:
                needs = visiting[sid] = self._needs(step)
                pending = [
                    p
                    for name in needs
                    for p in self.catalog.providers.get(name, ())
                    if p not in self.verdicts and p not in visiting
                ]
                if pending:
                    stack.extend(pending)
                    continue
            stack.pop()
            del visiting[sid]
            self.verdicts[sid] = self._decide(step, needs)
        return self.verdicts[root]

    def _needs(self, step: Step) -> list[str]:
        """The required inputs that init does not hold and absence does not satisfy."""
        return [
            name
            for name, spec in self.shared.inputs(step).items()
            if spec.role is Role.REQUIRED
            and spec.collect is not Collect.NONE
            and name not in self.have
        ]

    def _decide(self, step: Step, needs: list[str]) -> _Verdict:
        blocked = _blocked(self.shared.inputs(step), self.have)
        if blocked:
            return _Verdict(blocked=blocked)
        missing = [name for name in needs if not self._available(step, name)]
        if step.flow is not None:
            missing.extend(self._child(step).required)
        return _Verdict(missing=tuple(sorted(set(missing)))) if missing else _RUNS

    def _available(self, step: Step, name: str) -> bool:
        """Some provider of ``name`` can run (every one, for ``collect: all``)."""
        providers = self.catalog.providers.get(name, ())
        runs = [p in self.verdicts and self.verdicts[p].runs for p in providers]
        if self.shared.inputs(step)[name].collect is Collect.ALL:
            return bool(runs) and all(runs)
        return any(runs)

    # -------------------------------------------------------------- excluded

    def _excluded(self) -> Excluded:
        missing: dict[StepID, tuple[str, ...]] = {}
        satisfied: dict[StepID, tuple[str, ...]] = {}
        blocked: dict[StepID, tuple[str, ...]] = {}
        for sid in sorted(self.reached.keys() - self.included.keys()):
            step = self.catalog.steps[sid]
            verdict = self._verdict(sid)
            if verdict.blocked:
                blocked[sid] = verdict.blocked
            elif step.outputs and all(name in self.have for name in step.outputs):
                satisfied[sid] = tuple(sorted(step.outputs))
            elif verdict.missing:
                missing[sid] = verdict.missing
        return Excluded(missing, satisfied, blocked)


def _blocked(inputs: Mapping[str, AttributeSpec], have: Set[str]) -> tuple[str, ...]:
    """Inputs whose init value makes waiting for absence (``collect: none``) hopeless."""
    return tuple(
        sorted(n for n, spec in inputs.items() if spec.collect is Collect.NONE and n in have)
    )


def _check_outputs(step: Step, child: Plan) -> None:
    """Every output of a flow step must be something its child flow holds at the end.

    An output the child can never produce would fail the step on every run, so
    the plan is refused instead, naming the attribute.
    """
    produced = child_init(step) | {n for s in child.steps.values() for n in s.outputs}
    goals = ", ".join(child.goals)
    problems = [
        (
            f"steps.{step.id}.attributes.{name}",
            f"the child flow (goals {goals}) produces no {json_text(inner)}",
        )
        for name, spec in step.attributes.items()
        if spec.role is Role.OUTPUT and (inner := spec.inner_name or name) not in produced
    ]
    if problems:
        raise ValidationError(problems)


def _edges(
    steps: Mapping[StepID, Step], inputs: Callable[[Step], Mapping[str, AttributeSpec]]
) -> dict[str, AttributeEdges]:
    providers: dict[str, list[StepID]] = {}
    consumers: dict[str, list[StepID]] = {}
    for step in steps.values():
        for name in step.outputs:
            providers.setdefault(name, []).append(step.id)
        for name in inputs(step):
            consumers.setdefault(name, []).append(step.id)
    return {
        name: AttributeEdges(tuple(providers.get(name, ())), tuple(consumers.get(name, ())))
        for name in sorted(providers.keys() | consumers.keys())
    }
