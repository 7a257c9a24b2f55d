"""Performing work items and predicates: turning what a script, a service or a child flow
did into an Outcome."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from argyll.compensate import RunCompensation
from argyll.decide import EvaluatePredicate, Failed, Outcome, RunWork, Succeeded
from argyll.errors import ScriptError
from argyll.model import Step, StepType
from argyll.runtime.http import HttpCaller
from argyll.runtime.scripts import ScriptRunner
from argyll.runtime.subflows import SubflowRunner
from argyll.script.result import as_outputs, is_truthy


class WorkRunner:
    """Runs one attempt of a work item; None means the result will arrive later (a webhook)."""

    def __init__(self, scripts: ScriptRunner, http: HttpCaller, subflows: SubflowRunner) -> None:
        self._scripts, self._http, self._subflows = scripts, http, subflows

    async def run(self, effect: RunWork) -> Outcome | None:
        step = effect.step
        if step.type is StepType.FLOW:
            return await self._subflows.run(effect)
        if step.type is not StepType.SCRIPT:
            return await self._http.call(effect)
        assert step.script is not None  # noqa: S101 — narrows the type: a script step has a script
        try:
            value = await self._scripts.run(step.script, _bindings(step, effect.inputs))
        except ScriptError as exc:
            return Failed(f"script error: {exc}")
        return Succeeded(as_outputs(value))

    async def compensate(self, effect: RunCompensation) -> Outcome:
        """Undo one succeeded item (only HTTP steps have a compensate URL)."""
        return await self._http.compensate(effect)

    async def check_predicate(self, effect: EvaluatePredicate) -> tuple[bool, str | None]:
        """(passed, error): an error in the predicate fails the step."""
        assert effect.step.predicate is not None  # noqa: S101 — narrows the type: only steps with one
        try:
            value = await self._scripts.run(
                effect.step.predicate, _bindings(effect.step, effect.inputs)
            )
        except ScriptError as exc:
            return False, str(exc)
        return is_truthy(value), None


def _bindings(step: Step, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """What a script sees: every input the step declares, null when it has no value (as
    upstream binds them), so a script may test an absent optional input."""
    declared = (step.attributes[name].inner_name or name for name in step.runtime_inputs)
    return {**dict.fromkeys(declared), **inputs}
