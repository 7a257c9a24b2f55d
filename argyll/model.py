"""Domain types: steps and their attributes, plans, flow and execution state.

Everything here is a frozen value; change is by copy (``dataclasses.replace``).
``parse_step`` turns the JSON of SPEC §1 into a ``Step``, gathering every
problem before it raises, so a client learns all that is wrong at once.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, NewType, TypeVar

from argyll.errors import ValidationError

E = TypeVar("E", bound=StrEnum)

StepID = NewType("StepID", str)
FlowID = NewType("FlowID", str)
Token = NewType("Token", str)

ID_PATTERN = re.compile(r"[A-Za-z0-9_.-]+")
DEFAULT_TIMEOUT_MS = 30_000


class StepType(StrEnum):
    SYNC = "sync"
    ASYNC = "async"
    SCRIPT = "script"


class Role(StrEnum):
    REQUIRED = "required"
    OPTIONAL = "optional"
    OUTPUT = "output"


class AttrType(StrEnum):
    STRING = "string"
    NUMBER = "number"
    BOOLEAN = "boolean"
    OBJECT = "object"
    ARRAY = "array"
    NULL = "null"
    ANY = "any"


class Language(StrEnum):
    ALE = "ale"
    LUA = "lua"


class BackoffType(StrEnum):
    FIXED = "fixed"
    LINEAR = "linear"
    EXPONENTIAL = "exponential"


class HttpMethod(StrEnum):
    GET = "GET"
    POST = "POST"
    PUT = "PUT"
    DELETE = "DELETE"


class HealthStatus(StrEnum):
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"
    UNKNOWN = "unknown"


class StepStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"

    @property
    def ended(self) -> bool:
        return self in _ENDED


_ENDED = frozenset({StepStatus.COMPLETED, StepStatus.FAILED, StepStatus.SKIPPED})


class WorkStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    NOT_COMPLETED = "not_completed"


class FlowStatus(StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"
    FAILED = "failed"


def matches_type(value: Any, attr_type: AttrType) -> bool:
    """Whether a JSON value is of an attribute type (bool is not a number)."""
    match attr_type:
        case AttrType.ANY:
            return True
        case AttrType.STRING:
            return isinstance(value, str)
        case AttrType.NUMBER:
            return isinstance(value, int | float) and not isinstance(value, bool)
        case AttrType.BOOLEAN:
            return isinstance(value, bool)
        case AttrType.OBJECT:
            return isinstance(value, dict)
        case AttrType.ARRAY:
            return isinstance(value, list)
        case AttrType.NULL:
            return value is None
    return False


# --------------------------------------------------------------------- steps


@dataclass(frozen=True, slots=True)
class AttributeSpec:
    role: Role
    type: AttrType = AttrType.ANY
    default: str | None = None
    for_each: bool = False

    @property
    def is_input(self) -> bool:
        return self.role is not Role.OUTPUT

    def default_value(self) -> Any:
        """The parsed default; only meaningful when ``default`` is set."""
        return json.loads(self.default) if self.default is not None else None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"role": self.role.value, "type": self.type.value}
        if self.default is not None:
            out["default"] = self.default
        if self.for_each:
            out["for_each"] = True
        return out


@dataclass(frozen=True, slots=True)
class HttpConfig:
    endpoint: str
    method: HttpMethod = HttpMethod.POST
    health_check: str | None = None
    timeout: int = DEFAULT_TIMEOUT_MS

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"endpoint": self.endpoint, "method": self.method.value}
        if self.health_check:
            out["health_check"] = self.health_check
        out["timeout"] = self.timeout
        return out


@dataclass(frozen=True, slots=True)
class ScriptConfig:
    language: Language
    script: str

    def to_dict(self) -> dict[str, Any]:
        return {"language": self.language.value, "script": self.script}


@dataclass(frozen=True, slots=True)
class WorkConfig:
    """Retry and fan-out settings; ``max_retries`` 0 means the engine default, -1 unlimited."""

    max_retries: int = 0
    init_backoff: int = 1000
    max_backoff: int = 60_000
    backoff_type: BackoffType = BackoffType.EXPONENTIAL
    parallelism: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "max_retries": self.max_retries,
            "init_backoff": self.init_backoff,
            "max_backoff": self.max_backoff,
            "backoff_type": self.backoff_type.value,
            "parallelism": self.parallelism,
        }


@dataclass(frozen=True, slots=True)
class Step:
    id: StepID
    type: StepType
    name: str = ""
    version: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    attributes: Mapping[str, AttributeSpec] = field(default_factory=dict)
    http: HttpConfig | None = None
    script: ScriptConfig | None = None
    predicate: ScriptConfig | None = None
    work_config: WorkConfig = field(default_factory=WorkConfig)

    @property
    def inputs(self) -> dict[str, AttributeSpec]:
        return {n: a for n, a in self.attributes.items() if a.role is not Role.OUTPUT}

    @property
    def required_inputs(self) -> list[str]:
        return [n for n, a in self.attributes.items() if a.role is Role.REQUIRED]

    @property
    def optional_inputs(self) -> list[str]:
        return [n for n, a in self.attributes.items() if a.role is Role.OPTIONAL]

    @property
    def outputs(self) -> list[str]:
        return [n for n, a in self.attributes.items() if a.role is Role.OUTPUT]

    @property
    def for_each_inputs(self) -> list[str]:
        return [n for n, a in self.attributes.items() if a.for_each]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "name": self.name or self.id, "type": self.type}
        if self.version:
            out["version"] = self.version
        if self.labels:
            out["labels"] = dict(self.labels)
        out["attributes"] = {n: a.to_dict() for n, a in self.attributes.items()}
        if self.http is not None:
            out["http"] = self.http.to_dict()
        if self.script is not None:
            out["script"] = self.script.to_dict()
        if self.predicate is not None:
            out["predicate"] = self.predicate.to_dict()
        out["work_config"] = self.work_config.to_dict()
        return out


class _Problems:
    """Collects (field, reason) pairs while parsing, raising once at the end."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, where: str, reason: str) -> None:
        self.items.append((where, reason))

    def raise_if_any(self) -> None:
        if self.items:
            raise ValidationError(self.items)


def _enum(
    cls: type[E], value: Any, where: str, problems: _Problems, default: E | None = None
) -> E | None:
    if value is None and default is not None:
        return default
    try:
        return cls(value)
    except ValueError:
        allowed = ", ".join(m.value for m in cls)
        problems.add(where, f"must be one of {allowed}, got {value!r}")
        return default


def _int(
    data: Mapping[str, Any], key: str, where: str, problems: _Problems, default: int, low: int
) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        problems.add(f"{where}.{key}", f"must be an integer, got {value!r}")
        return default
    if value < low:
        problems.add(f"{where}.{key}", f"must be at least {low}, got {value}")
        return default
    return value


def _object(value: Any, where: str, problems: _Problems) -> Mapping[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        problems.add(where, f"must be an object, got {type(value).__name__}")
        return None
    return value


def _string(
    data: Mapping[str, Any], key: str, where: str, problems: _Problems, default: str = ""
) -> str:
    value = data.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        problems.add(f"{where}.{key}" if where else key, f"must be a string, got {value!r}")
        return default
    return value


def _parse_attribute(name: str, data: Any, problems: _Problems) -> AttributeSpec | None:
    where = f"attributes.{name}"
    spec = _object(data, where, problems)
    if spec is None:
        if data is None:
            problems.add(where, "must be an object")
        return None
    role = _enum(Role, spec.get("role"), f"{where}.role", problems)
    attr_type = _enum(AttrType, spec.get("type"), f"{where}.type", problems, AttrType.ANY)
    nested = _object(spec.get(role.value) if role else None, f"{where}.{role}", problems) or {}
    default = nested.get("default", spec.get("default"))
    for_each = nested.get("for_each", spec.get("for_each", False))
    if role is None or attr_type is None:
        return None
    if not isinstance(for_each, bool):
        problems.add(f"{where}.for_each", f"must be true or false, got {for_each!r}")
        for_each = False
    if for_each and (role is Role.OUTPUT or attr_type not in (AttrType.ARRAY, AttrType.ANY)):
        problems.add(f"{where}.for_each", "only allowed on inputs of type array or any")
    if default is not None:
        _check_default(where, role, attr_type, default, problems)
    return AttributeSpec(role, attr_type, default if isinstance(default, str) else None, for_each)


def _check_default(
    where: str, role: Role, attr_type: AttrType, default: Any, problems: _Problems
) -> None:
    if role is not Role.OPTIONAL:
        problems.add(f"{where}.default", "only allowed on optional inputs")
    elif not isinstance(default, str):
        problems.add(f"{where}.default", 'must be a JSON text, e.g. "\\"NONE\\"" or "1"')
    else:
        try:
            value = json.loads(default)
        except ValueError as exc:
            problems.add(f"{where}.default", f"is not valid JSON: {exc}")
            return
        if not matches_type(value, attr_type):
            problems.add(f"{where}.default", f"{default} is not of type {attr_type}")


def _parse_http(data: Any, problems: _Problems) -> HttpConfig | None:
    http = _object(data, "http", problems)
    if http is None:
        return None
    endpoint = _string(http, "endpoint", "http", problems)
    if not endpoint.startswith(("http://", "https://")):
        problems.add("http.endpoint", f"must be an http(s) URL, got {endpoint!r}")
    health = _string(http, "health_check", "http", problems) or None
    if health and not health.startswith(("http://", "https://")):
        problems.add("http.health_check", f"must be an http(s) URL, got {health!r}")
    method_name = http.get("method", "POST")
    method = _enum(
        HttpMethod,
        method_name.upper() if isinstance(method_name, str) else method_name,
        "http.method",
        problems,
        HttpMethod.POST,
    )
    timeout = _int(http, "timeout", "http", problems, DEFAULT_TIMEOUT_MS, 1)
    return HttpConfig(endpoint, method or HttpMethod.POST, health, timeout)


def _parse_script(data: Any, where: str, problems: _Problems) -> ScriptConfig | None:
    script = _object(data, where, problems)
    if script is None:
        return None
    language = _enum(Language, script.get("language"), f"{where}.language", problems)
    source = _string(script, "script", where, problems)
    if not source.strip():
        problems.add(f"{where}.script", "must not be empty")
    return ScriptConfig(language, source) if language else None


def _parse_work_config(data: Any, problems: _Problems) -> WorkConfig:
    work = _object(data, "work_config", problems)
    if work is None:
        return WorkConfig()
    base = WorkConfig()
    config = WorkConfig(
        max_retries=_int(work, "max_retries", "work_config", problems, base.max_retries, -1),
        init_backoff=_int(work, "init_backoff", "work_config", problems, base.init_backoff, 0),
        max_backoff=_int(work, "max_backoff", "work_config", problems, base.max_backoff, 0),
        backoff_type=_enum(
            BackoffType,
            work.get("backoff_type"),
            "work_config.backoff_type",
            problems,
            base.backoff_type,
        )
        or base.backoff_type,
        parallelism=_int(work, "parallelism", "work_config", problems, base.parallelism, 1),
    )
    if "max_backoff" in work and config.max_backoff < config.init_backoff:
        problems.add("work_config.max_backoff", "must not be below init_backoff")
    return config


def _parse_labels(data: Any, problems: _Problems) -> dict[str, str]:
    labels = _object(data, "labels", problems) or {}
    for key, value in labels.items():
        if not isinstance(value, str):
            problems.add(f"labels.{key}", f"must be a string, got {value!r}")
    return {k: v for k, v in labels.items() if isinstance(v, str)}


def parse_step(data: Any, step_id: str | None = None) -> Step:
    """Parse and validate a step definition (SPEC §1); raises ValidationError naming each field.

    ``step_id`` (from a URL) must agree with the body's ``id`` when both are given.
    """
    problems = _Problems()
    if not isinstance(data, Mapping):
        raise ValidationError([("body", "a step must be a JSON object")])
    ident = data.get("id", step_id)
    if not isinstance(ident, str) or not ID_PATTERN.fullmatch(ident):
        problems.add("id", f"must match [A-Za-z0-9_.-]+, got {ident!r}")
    elif step_id is not None and ident != step_id:
        problems.add("id", f"{ident!r} does not match the step id {step_id!r} in the path")
    step_type = _enum(StepType, data.get("type"), "type", problems)
    attributes = _object(data.get("attributes", {}), "attributes", problems) or {}
    parsed = {name: _parse_attribute(name, spec, problems) for name, spec in attributes.items()}
    for name in attributes:
        if not ID_PATTERN.fullmatch(name):
            problems.add(f"attributes.{name}", "names must match [A-Za-z0-9_.-]+")
    http = _parse_http(data.get("http"), problems)
    script = _parse_script(data.get("script"), "script", problems)
    predicate = _parse_script(data.get("predicate"), "predicate", problems)
    _check_implementation(step_type, data, problems)
    step = Step(
        id=StepID(ident if isinstance(ident, str) else ""),
        type=step_type or StepType.SYNC,
        name=_string(data, "name", "", problems) or (ident if isinstance(ident, str) else ""),
        version=_string(data, "version", "", problems),
        labels=_parse_labels(data.get("labels"), problems),
        attributes={n: a for n, a in parsed.items() if a is not None},
        http=http,
        script=script,
        predicate=predicate,
        work_config=_parse_work_config(data.get("work_config"), problems),
    )
    problems.raise_if_any()
    return step


def _check_implementation(
    step_type: StepType | None, data: Mapping[str, Any], problems: _Problems
) -> None:
    if step_type is None:
        return
    wanted, refused = ("script", "http") if step_type is StepType.SCRIPT else ("http", "script")
    if data.get(wanted) is None:
        problems.add(wanted, f"required for {step_type} steps")
    if data.get(refused) is not None:
        problems.add(refused, f"not allowed on {step_type} steps")


# --------------------------------------------------------------------- plans


@dataclass(frozen=True, slots=True)
class AttributeEdges:
    providers: tuple[StepID, ...] = ()
    consumers: tuple[StepID, ...] = ()


@dataclass(frozen=True, slots=True)
class Plan:
    goals: tuple[StepID, ...]
    required: tuple[str, ...]
    steps: Mapping[StepID, Step]
    attributes: Mapping[str, AttributeEdges]

    def providers(self, name: str) -> tuple[StepID, ...]:
        edges = self.attributes.get(name)
        return edges.providers if edges else ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "goals": list(self.goals),
            "required": list(self.required),
            "steps": {sid: step.to_dict() for sid, step in self.steps.items()},
            "attributes": {
                name: {"providers": list(e.providers), "consumers": list(e.consumers)}
                for name, e in self.attributes.items()
            },
        }


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
    )


# ---------------------------------------------------------------- flow state


def iso(moment: datetime | None) -> str | None:
    """ISO-8601 UTC with milliseconds, as every timestamp in the API."""
    if moment is None:
        return None
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class WorkItem:
    inputs: Mapping[str, Any]
    status: WorkStatus = WorkStatus.PENDING
    outputs: Mapping[str, Any] | None = None
    error: str | None = None
    retry_count: int = 0
    next_retry_at: datetime | None = None
    owner: str = ""
    """The engine instance running the current attempt (its lease)."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "status": self.status.value,
            "inputs": dict(self.inputs),
            "retry_count": self.retry_count,
        }
        if self.owner:
            out["owner"] = self.owner
        if self.outputs is not None:
            out["outputs"] = dict(self.outputs)
        if self.error is not None:
            out["error"] = self.error
        if self.next_retry_at is not None:
            out["next_retry_at"] = iso(self.next_retry_at)
        return out


@dataclass(frozen=True, slots=True)
class Execution:
    status: StepStatus = StepStatus.PENDING
    started_at: datetime | None = None
    completed_at: datetime | None = None
    inputs: Mapping[str, Any] = field(default_factory=dict)
    outputs: Mapping[str, Any] | None = None
    error: str | None = None
    reason: str | None = None
    work_items: Mapping[Token, WorkItem] = field(default_factory=dict)

    @property
    def duration_ms(self) -> int | None:
        if self.started_at is None or self.completed_at is None:
            return None
        return round((self.completed_at - self.started_at).total_seconds() * 1000)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status.value, "inputs": dict(self.inputs)}
        if self.started_at is not None:
            out["started_at"] = iso(self.started_at)
        if self.completed_at is not None:
            out["completed_at"] = iso(self.completed_at)
        if self.outputs is not None:
            out["outputs"] = dict(self.outputs)
        if self.error is not None:
            out["error"] = self.error
        if self.reason is not None:
            out["reason"] = self.reason
        if self.duration_ms is not None:
            out["duration"] = self.duration_ms
        out["work_items"] = {t: w.to_dict() for t, w in self.work_items.items()}
        return out


@dataclass(frozen=True, slots=True)
class AttributeValue:
    value: Any
    step: StepID | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "step": self.step}


@dataclass(frozen=True, slots=True)
class FlowState:
    id: FlowID
    plan: Plan
    init: Mapping[str, Any]
    created_at: datetime
    status: FlowStatus = FlowStatus.ACTIVE
    last_updated: datetime | None = None
    completed_at: datetime | None = None
    error: str | None = None
    attributes: Mapping[str, AttributeValue] = field(default_factory=dict)
    executions: Mapping[StepID, Execution] = field(default_factory=dict)
    version: int = 0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "status": self.status.value,
            "created_at": iso(self.created_at),
            "last_updated": iso(self.last_updated or self.created_at),
        }
        if self.completed_at is not None:
            out["completed_at"] = iso(self.completed_at)
        if self.error is not None:
            out["error"] = self.error
        out["plan"] = self.plan.to_dict()
        out["init"] = dict(self.init)
        out["attributes"] = {n: a.to_dict() for n, a in self.attributes.items()}
        out["executions"] = {s: e.to_dict() for s, e in self.executions.items()}
        return out


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
    )


def flow_state_from_dict(data: Mapping[str, Any], version: int = 0) -> FlowState:
    """A ``FlowState`` from its SPEC §7 JSON (``to_dict``'s inverse); the JSON has no version."""
    return FlowState(
        id=FlowID(data["id"]),
        plan=plan_from_dict(data["plan"]),
        init=data.get("init", {}),
        created_at=parse_time(data["created_at"]),
        status=FlowStatus(data["status"]),
        last_updated=_maybe_time(data.get("last_updated")),
        completed_at=_maybe_time(data.get("completed_at")),
        error=data.get("error"),
        attributes={
            name: AttributeValue(a["value"], StepID(a["step"]) if a.get("step") else None)
            for name, a in data.get("attributes", {}).items()
        },
        executions={StepID(s): _execution(e) for s, e in data.get("executions", {}).items()},
        version=version,
    )


@dataclass(frozen=True, slots=True)
class FlowSummary:
    """One row of the flow index: what listing flows needs without folding them."""

    id: FlowID
    status: FlowStatus
    created_at: datetime
    completed_at: datetime | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "status": self.status.value,
            "created_at": iso(self.created_at),
        }
        if self.completed_at is not None:
            out["completed_at"] = iso(self.completed_at)
        if self.error is not None:
            out["error"] = self.error
        return out


# ------------------------------------------------------------------- catalog


@dataclass(frozen=True, slots=True)
class Health:
    status: HealthStatus = HealthStatus.UNKNOWN
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status.value}
        if self.error:
            out["error"] = self.error
        return out


@dataclass(frozen=True, slots=True)
class Catalog:
    """Registered steps plus the attribute indexes the planner walks.

    ``providers``/``consumers`` map an attribute name to the steps that output /
    take it, so planning touches only the part of the catalog a goal needs.
    """

    steps: Mapping[StepID, Step] = field(default_factory=dict)
    health: Mapping[StepID, Health] = field(default_factory=dict)
    providers: Mapping[str, tuple[StepID, ...]] = field(default_factory=dict)
    consumers: Mapping[str, tuple[StepID, ...]] = field(default_factory=dict)
    version: int = 0
    last_updated: datetime | None = None

    def attribute_type(self, name: str, ignore: StepID | None = None) -> tuple[AttrType, StepID]:
        """The first concrete type the catalog gives ``name`` and the step that declares it."""
        for sid in (*self.providers.get(name, ()), *self.consumers.get(name, ())):
            spec = self.steps[sid].attributes[name]
            if sid != ignore and spec.type is not AttrType.ANY:
                return spec.type, sid
        return AttrType.ANY, StepID("")


# ------------------------------------------------------------ API results


@dataclass(frozen=True, slots=True)
class StepRegistration:
    """What ``submit_step`` did: ``created`` is False when the same definition was repeated."""

    step: Step
    created: bool


@dataclass(frozen=True, slots=True)
class FlowStart:
    """What ``submit_flow`` did: ``created`` is False when the same request was repeated."""

    flow_id: FlowID
    created: bool
