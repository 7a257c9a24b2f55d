"""Reading the model's JSON back: step definitions, stored plans, flow state.

``parse_step`` accepts a definition only once ``validation.py`` has found
nothing wrong with it (every problem at once), so building the ``Step`` needs
no checks of its own. The inverse direction is each type's ``to_dict``; a step
read back registers as the same step (``parse_step(step.to_dict()) == step``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from argyll.model.state import (
    AttributeValue,
    Execution,
    FlowState,
    ParentRef,
    WorkItem,
)
from argyll.model.types import (
    DEFAULT_TIMEOUT_MS,
    AttributeEdges,
    AttributeMapping,
    AttributeSpec,
    AttrType,
    BackoffType,
    Collect,
    Excluded,
    FlowConfig,
    FlowID,
    FlowStatus,
    HttpConfig,
    HttpMethod,
    Language,
    MetaKey,
    Plan,
    Role,
    ScriptConfig,
    Step,
    StepID,
    StepStatus,
    StepType,
    Token,
    WorkConfig,
    WorkStatus,
)
from argyll.model.validation import check_step_definition, role_settings

# --------------------------------------------------------------------- steps


def parse_step(data: Any, step_id: str | None = None) -> Step:
    """Parse and validate a step definition; raises ValidationError naming each field.

    ``step_id`` (from a URL) must agree with the body's ``id`` when both are given.
    """
    definition = check_step_definition(data, step_id)
    ident = StepID(definition["id"])
    return Step(
        id=ident,
        type=StepType(definition["type"]),
        name=definition.get("name") or ident,
        version=definition.get("version", ""),
        labels=dict(definition.get("labels", {})),
        attributes={
            name: _attribute(spec) for name, spec in definition.get("attributes", {}).items()
        },
        http=_http(definition["http"]) if "http" in definition else None,
        script=_script(definition["script"]) if "script" in definition else None,
        predicate=_script(definition["predicate"]) if "predicate" in definition else None,
        work_config=_work_config(definition.get("work_config", {})),
        flow=FlowConfig(tuple(map(StepID, definition["flow"]["goals"])))
        if "flow" in definition
        else None,
        memoizable=definition.get("memoizable", False),
    )


def _attribute(spec: Mapping[str, Any]) -> AttributeSpec:
    settings = {key: value for key, (_, value) in role_settings(spec).items()}
    role = Role(spec["role"])
    nested = spec.get(role.value, {})
    return AttributeSpec(
        role=role,
        type=AttrType(spec.get("type", AttrType.ANY)),
        default=settings.get("default"),
        for_each=settings.get("for_each", False),
        collect=Collect(nested.get("collect", Collect.FIRST)),
        match=_script(nested["match"]) if "match" in nested else None,
        deadline=nested.get("deadline"),
        mapping=_mapping(nested["mapping"]) if "mapping" in nested else None,
        const_value=nested.get("value") if role is Role.CONST else None,
        meta_key=MetaKey(nested["key"]) if role is Role.META else None,
    )


def _mapping(data: Mapping[str, Any]) -> AttributeMapping:
    script = data.get("script")
    return AttributeMapping(data.get("name"), _script(script) if script else None)


def _http(data: Mapping[str, Any]) -> HttpConfig:
    return HttpConfig(
        endpoint=data["endpoint"],
        method=HttpMethod(data.get("method", HttpMethod.POST).upper()),
        health_check=data.get("health_check"),
        timeout=data.get("timeout", DEFAULT_TIMEOUT_MS),
        callback_timeout=data.get("callback_timeout"),
        compensate=data.get("compensate"),
    )


def _script(data: Mapping[str, Any]) -> ScriptConfig:
    return ScriptConfig(Language(data["language"]), data["script"])


def _work_config(data: Mapping[str, Any]) -> WorkConfig:
    base = WorkConfig()
    return WorkConfig(
        max_retries=data.get("max_retries", base.max_retries),
        init_backoff=data.get("init_backoff", base.init_backoff),
        max_backoff=data.get("max_backoff", base.max_backoff),
        backoff_type=BackoffType(data.get("backoff_type", base.backoff_type)),
        parallelism=data.get("parallelism", base.parallelism),
        concurrency=data.get("concurrency"),
    )


# --------------------------------------------------------------------- plans


@functools.lru_cache(maxsize=4096)
def _stored_step(text: str) -> Step:
    return parse_step(json.loads(text))


def plan_from_dict(data: Mapping[str, Any]) -> Plan:
    """A stored plan; each flow repeats its steps' definitions, so parsed steps are shared."""
    return Plan(
        goals=tuple(data["goals"]),
        required=tuple(data.get("required", ())),
        steps={StepID(sid): _stored_step(json.dumps(s)) for sid, s in data["steps"].items()},
        attributes={
            name: AttributeEdges(tuple(e["providers"]), tuple(e["consumers"]))
            for name, e in data["attributes"].items()
        },
        children={StepID(sid): plan_from_dict(c) for sid, c in data.get("children", {}).items()},
        excluded=_excluded(data.get("excluded", {})),
    )


def _excluded(data: Mapping[str, Any]) -> Excluded:
    def group(reason: str) -> dict[StepID, tuple[str, ...]]:
        return {StepID(sid): tuple(names) for sid, names in data.get(reason, {}).items()}

    return Excluded(group("missing"), group("satisfied"), group("blocked"))


# ---------------------------------------------------------------- flow state


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _maybe_time(text: str | None) -> datetime | None:
    return parse_time(text) if text else None


def _work_item(data: Mapping[str, Any]) -> WorkItem:
    return WorkItem(
        inputs=data.get("inputs", {}),
        status=WorkStatus(data["status"]),
        outputs=data.get("outputs"),
        error=data.get("error"),
        retry_count=data.get("retry_count", 0),
        next_retry_at=_maybe_time(data.get("next_retry_at")),
        owner=data.get("owner", ""),
        started_at=_maybe_time(data.get("started_at")),
        memo=data.get("memo"),
        completed_seq=data.get("completed_seq"),
    )


def _execution(data: Mapping[str, Any]) -> Execution:
    return Execution(
        status=StepStatus(data["status"]),
        started_at=_maybe_time(data.get("started_at")),
        completed_at=_maybe_time(data.get("completed_at")),
        inputs=data.get("inputs", {}),
        outputs=data.get("outputs"),
        error=data.get("error"),
        reason=data.get("reason"),
        work_items={Token(t): _work_item(w) for t, w in data.get("work_items", {}).items()},
        unsatisfied=tuple(data.get("unsatisfied", ())),
    )


def flow_state_from_dict(data: Mapping[str, Any], version: int = 0) -> FlowState:
    """A ``FlowState`` from its REST JSON (``to_dict``'s inverse); the JSON has no version."""
    return FlowState(
        id=FlowID(data["id"]),
        plan=plan_from_dict(data["plan"]),
        init=data.get("init", {}),
        created_at=parse_time(data["created_at"]),
        status=FlowStatus(data["status"]),
        last_updated=_maybe_time(data.get("last_updated")),
        completed_at=_maybe_time(data.get("completed_at")),
        error=data.get("error"),
        attributes={name: _attribute_value(a) for name, a in data.get("attributes", {}).items()},
        executions={StepID(s): _execution(e) for s, e in data.get("executions", {}).items()},
        version=version,
        deadline=_maybe_time(data.get("deadline")),
        labels=dict(data.get("labels", {})),
        parent=parent_from_dict(data["parent"]) if data.get("parent") else None,
        deactivated_at=_maybe_time(data.get("deactivated_at")),
    )


def _attribute_value(data: Mapping[str, Any]) -> AttributeValue:
    return AttributeValue(
        data["value"],
        StepID(data["step"]) if data.get("step") else None,
        tuple(_attribute_value(v) for v in data.get("values", ())),
    )


def parent_from_dict(data: Mapping[str, Any]) -> ParentRef:
    """A child flow's ``parent`` (``ParentRef.to_dict``'s inverse)."""
    return ParentRef(FlowID(data["flow_id"]), StepID(data["step_id"]), Token(data["token"]))
