"""Between a flow's attributes and what a step's service sees: mappings, const and meta inputs.

A flow speaks of attributes by their *outer* names (the step's attribute names);
a service reads and writes *inner* names (``mapping.name``, else the outer
name). On the way in each input is transformed by its ``mapping.script`` and
renamed; on the way out each output is read from the response under its inner
name, transformed, and stored under its outer name (docs/steps.md, "Mappings").

Where each side shows in flow state: an execution's ``inputs`` are the flow's
side (outer names, values before mapping, const inputs included); each work
item's ``inputs`` and ``outputs`` are the service's side (what it was sent, what
it answered). Meta inputs are facts of the item (its flow, step, token) and are
added to the call, not recorded with the item's inputs.

Scripts run through the decision's ``evaluate``: Ale and Lua see the value as
``value``, a jpath query takes it as its document ``$``. What they yield is
recorded in the events the deciders emit (work items' inputs, step outputs), so a
replay never runs them again.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Mapping
from typing import Any

from argyll.errors import ScriptError
from argyll.model import (
    AttributeSpec,
    Execution,
    FlowState,
    MetaKey,
    Plan,
    ScriptConfig,
    Step,
    Token,
    matches_type,
)
from argyll.script.result import NOTHING

Evaluate = Callable[[ScriptConfig, Mapping[str, Any]], Any]


class MappingFailed(Exception):
    """A mapping script failed; the message names the attribute and the direction."""


# ------------------------------------------------------------------- inputs


def const_values(step: Step, init: Mapping[str, Any]) -> dict[str, Any]:
    """Each const input's value: the flow's init value of that name, else its ``const.value``."""
    values: dict[str, Any] = {}
    for name, spec in step.const_inputs.items():
        if name in init:
            values[name] = init[name]
        elif spec.const_value is not None:
            values[name] = json.loads(spec.const_value)
    return values


def const_problems(plan: Plan, init: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Init values that override a const input of a planned step with a value of another type."""
    problems = []
    for name, value in init.items():
        for step in plan.steps.values():
            spec = step.const_inputs.get(name)
            if spec is not None and not matches_type(value, spec.type):
                problems.append((f"init.{name}", f"must be of type {spec.type}"))
                break
    return problems


def typed_by_flow(spec: AttributeSpec) -> bool:
    """Whether an input's ``type`` is its flow value's: not when a script turns the value.

    A script's result is what the type then describes (``"type": "number"`` with
    ``$.order.total``), as in upstream's examples; renaming alone keeps the value. A
    for_each input's type is always the flow's array (each element is what is mapped).
    """
    return spec.for_each or spec.mapping is None or spec.mapping.script is None


def service_inputs(step: Step, inputs: Mapping[str, Any], evaluate: Evaluate) -> dict[str, Any]:
    """One work item's inputs as its service receives them: transformed, under inner names.

    An input whose jpath mapping selects nothing is left out; a script's result must be
    of the input's type. Raises MappingFailed.
    """
    sent: dict[str, Any] = {}
    for name, value in inputs.items():
        spec = step.attributes.get(name)
        if spec is None or spec.mapping is None:
            sent[name] = value
            continue
        if spec.mapping.script is not None:
            value = _run(spec.mapping.script, value, evaluate, f"input {name!r}")
            if value is NOTHING:
                continue
            if not typed_by_flow(spec) and not matches_type(value, spec.type):
                raise MappingFailed(f"input {name!r} as mapped must be of type {spec.type}")
        sent[spec.mapping.name or name] = value
    return sent


def meta_values(flow: FlowState, step: Step, token: Token | None = None) -> dict[str, Any]:
    """The step's meta inputs that the core knows, by name (without a token: the step's own).

    ``webhook_url`` is known only where the runtime calls an async step (``with_webhook_url``);
    the ``parent_*`` keys only in a child flow. A key with no value is left out.
    """
    facts: dict[MetaKey, Any] = {MetaKey.FLOW_ID: flow.id, MetaKey.STEP_ID: step.id}
    if token is not None:
        facts[MetaKey.RECEIPT_TOKEN] = token
    if flow.parent is not None:
        facts[MetaKey.PARENT_FLOW_ID] = flow.parent.flow_id
        facts[MetaKey.PARENT_STEP_ID] = flow.parent.step_id
        facts[MetaKey.PARENT_WORK_ITEM_TOKEN] = flow.parent.token
    return {
        name: facts[spec.meta_key]
        for name, spec in step.meta_inputs.items()
        if spec.meta_key in facts
    }


def with_webhook_url(step: Step, inputs: Mapping[str, Any], url: str) -> dict[str, Any]:
    """``inputs`` plus the step's ``webhook_url`` meta inputs, once the URL is known."""
    names = [n for n, s in step.meta_inputs.items() if s.meta_key is MetaKey.WEBHOOK_URL]
    return {**inputs, **dict.fromkeys(names, url)}


# ------------------------------------------------------------------ outputs


def flow_outputs(step: Step, response: Mapping[str, Any], evaluate: Evaluate) -> dict[str, Any]:
    """A service's response as the step's outputs, by outer name. Raises MappingFailed.

    Each output is read under its inner name; with a script it is transformed, and a
    script without a ``name`` reads the whole response (its document). An output the
    response lacks, or whose jpath mapping selects nothing, is not produced.
    """
    outputs: dict[str, Any] = {}
    for name in step.outputs:
        mapping = step.attributes[name].mapping
        inner = mapping.name if mapping is not None and mapping.name else name
        if mapping is None or mapping.script is None:
            if inner in response:
                outputs[name] = response[inner]
            continue
        if mapping.name is None:
            source: Any = dict(response)
        elif inner in response:
            source = response[inner]
        else:
            continue
        value = _run(mapping.script, source, evaluate, f"output {name!r}")
        if value is not NOTHING:
            outputs[name] = value
    return outputs


def step_outputs(step: Step, execution: Execution, evaluate: Evaluate) -> dict[str, Any]:
    """The step's outputs from its succeeded items; with for_each, one entry per item.

    An entry holds the item's for_each values as the flow gave them, plus the output:
    they are read from the execution's inputs in the order the items were made (the
    Cartesian product of ``_start_step``), since the item's own inputs may be mapped.
    Raises MappingFailed.
    """
    items = [
        flow_outputs(step, item.outputs or {}, evaluate) for item in execution.work_items.values()
    ]
    if not step.for_each_inputs:
        (outputs,) = items
        return outputs
    fan = [name for name in step.for_each_inputs if name in execution.inputs]
    combos = itertools.product(*(execution.inputs[name] for name in fan))
    entries = [dict(zip(fan, combo, strict=True)) for combo in combos]
    return {
        name: [
            {**entry, name: outputs[name]}
            for entry, outputs in zip(entries, items, strict=True)
            if name in outputs
        ]
        for name in step.outputs
    }


def _run(script: ScriptConfig, value: Any, evaluate: Evaluate, where: str) -> Any:
    try:
        return evaluate(script, {"value": value})
    except ScriptError as exc:
        raise MappingFailed(f"{where} mapping ({script.language}) failed: {exc}") from None
