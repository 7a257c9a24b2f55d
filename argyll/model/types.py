"""Domain types: ids, statuses, steps and their attributes, plans, flow and execution state.

Everything here is a frozen value; change is by copy (``dataclasses.replace``).
Each value writes its own JSON (``to_dict``), beside the fields it lists;
reading JSON back, which must validate first, is ``codec.py``'s work.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, NewType, TypeVar, cast

StepID = NewType("StepID", str)
FlowID = NewType("FlowID", str)
Token = NewType("Token", str)
V = TypeVar("V")

ID_PATTERN = re.compile(r"[A-Za-z0-9_.-]+")
DEFAULT_TIMEOUT_MS = 30_000
DEFAULT_PAGE = 50
MAX_PAGE = 1000
"""Rows of the flow index a listing answers with unless asked for more, and at most."""


class StepType(StrEnum):
    SYNC = "sync"
    ASYNC = "async"
    SCRIPT = "script"
    FLOW = "flow"
    """A sub-flow: the step runs a child flow for ``flow.goals``."""


class Role(StrEnum):
    REQUIRED = "required"
    OPTIONAL = "optional"
    CONST = "const"
    """An input fixed by the step (``const.value``); a flow's init may override it."""
    META = "meta"
    """An input drawn from the execution itself (``meta.key``: the flow id, the token, ...)."""
    OUTPUT = "output"

    @property
    def is_input(self) -> bool:
        """Fed by the flow's attributes: what plans follow (const and meta are not)."""
        return self in (Role.REQUIRED, Role.OPTIONAL)


class Collect(StrEnum):
    """How an input's candidates from several providers become its value."""

    FIRST = "first"
    """The first value produced (Part 1's rule)."""
    LAST = "last"
    """The last value, once every provider that could produce one has ended."""
    SOME = "some"
    """Every value, as an array, once every provider has ended and at least one produced."""
    ALL = "all"
    """Every value, as an array, once every provider has succeeded."""
    NONE = "none"
    """Satisfied only when no provider produces the attribute."""

    @property
    def gathers(self) -> bool:
        """Gives an array of candidates: the input's type is the array's, not the attribute's."""
        return self in (Collect.SOME, Collect.ALL)


class MetaKey(StrEnum):
    """What a ``meta`` input can be: facts of the execution, as upstream names them."""

    FLOW_ID = "flow_id"
    STEP_ID = "step_id"
    RECEIPT_TOKEN = "receipt_token"  # noqa: S105 — a key's name, not a secret
    WEBHOOK_URL = "webhook_url"
    PARENT_FLOW_ID = "parent_flow_id"
    PARENT_STEP_ID = "parent_step_id"
    PARENT_WORK_ITEM_TOKEN = "parent_work_item_token"  # noqa: S105 — a key's name


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
    JPATH = "jpath"
    """JSONPath queries: predicates, matches and mappings only, never a script step."""


STEP_LANGUAGES = (Language.ALE, Language.LUA)
"""The languages a ``script`` step may be written in."""


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
    COMPENSATING = "compensating"
    COMPENSATED = "compensated"
    COMPENSATION_FAILED = "compensation_failed"


class FlowStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def ended(self) -> bool:
        """Terminal: nothing more runs (a failed or canceled flow may still be retried)."""
        return self in _FLOW_ENDED


_FLOW_ENDED = frozenset({FlowStatus.COMPLETED, FlowStatus.FAILED, FlowStatus.CANCELED})


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
class ScriptConfig:
    language: Language
    script: str

    def to_dict(self) -> dict[str, Any]:
        return {"language": self.language.value, "script": self.script}


@dataclass(frozen=True, slots=True)
class AttributeMapping:
    """Between the flow's name and value and the service's: rename, transform, or both.

    ``name`` is the inner name (what the service sends or receives); ``script``
    turns the value (an input's on the way in, an output's on the way out).
    """

    name: str | None = None
    script: ScriptConfig | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.name is not None:
            out["name"] = self.name
        if self.script is not None:
            out["script"] = self.script.to_dict()
        return out


@dataclass(frozen=True, slots=True)
class AttributeSpec:
    """One attribute of a step. Settings belong to roles: ``default`` and ``deadline`` to
    optional inputs, ``match`` to required ones, ``collect`` and ``for_each`` to both,
    ``mapping`` to inputs and outputs, ``const_value`` to const and ``meta_key`` to meta."""

    role: Role
    type: AttrType = AttrType.ANY
    default: str | None = None
    for_each: bool = False
    collect: Collect = Collect.FIRST
    match: ScriptConfig | None = None
    deadline: int | None = None
    """Milliseconds an optional input waits for its providers once the step could run."""
    mapping: AttributeMapping | None = None
    const_value: str | None = None
    meta_key: MetaKey | None = None

    @property
    def is_input(self) -> bool:
        return self.role.is_input

    @property
    def inner_name(self) -> str | None:
        """The service's name for the attribute, when the mapping renames it."""
        return self.mapping.name if self.mapping is not None else None

    def default_value(self) -> Any:
        """The parsed default; only meaningful when ``default`` is set."""
        return json.loads(self.default) if self.default is not None else None

    def to_dict(self) -> dict[str, Any]:
        """Part 1's settings flat (``default``, ``for_each``), the others nested by role."""
        out: dict[str, Any] = {"role": self.role.value, "type": self.type.value}
        if self.default is not None:
            out["default"] = self.default
        if self.for_each:
            out["for_each"] = True
        nested = self._role_settings()
        if nested:
            out[self.role.value] = nested
        return out

    def _role_settings(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.collect is not Collect.FIRST:
            out["collect"] = self.collect.value
        if self.match is not None:
            out["match"] = self.match.to_dict()
        if self.deadline is not None:
            out["deadline"] = self.deadline
        if self.mapping is not None:
            out["mapping"] = self.mapping.to_dict()
        if self.const_value is not None:
            out["value"] = self.const_value
        if self.meta_key is not None:
            out["key"] = self.meta_key.value
        return out


@dataclass(frozen=True, slots=True)
class HttpConfig:
    endpoint: str
    method: HttpMethod = HttpMethod.POST
    health_check: str | None = None
    timeout: int = DEFAULT_TIMEOUT_MS
    callback_timeout: int | None = None
    """Milliseconds an async step's webhook may take after the acknowledgement."""
    compensate: str | None = None
    """Where a succeeded item is undone when its flow fails or is canceled (``{name}``
    placeholders from the item's outputs, then inputs)."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"endpoint": self.endpoint, "method": self.method.value}
        if self.health_check:
            out["health_check"] = self.health_check
        out["timeout"] = self.timeout
        if self.callback_timeout is not None:
            out["callback_timeout"] = self.callback_timeout
        if self.compensate is not None:
            out["compensate"] = self.compensate
        return out


@dataclass(frozen=True, slots=True)
class FlowConfig:
    """A sub-flow step's child: the goals it plans for and runs."""

    goals: tuple[StepID, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"goals": list(self.goals)}


@dataclass(frozen=True, slots=True)
class WorkConfig:
    """Retry, fan-out and concurrency settings.

    ``max_retries`` 0 means the engine default, -1 unlimited. ``parallelism`` bounds
    one step's items within a flow; ``concurrency`` (None: no bound) bounds the
    step's items running at once across every flow and engine on the store.
    """

    max_retries: int = 0
    init_backoff: int = 1000
    max_backoff: int = 60_000
    backoff_type: BackoffType = BackoffType.EXPONENTIAL
    parallelism: int = 1
    concurrency: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "max_retries": self.max_retries,
            "init_backoff": self.init_backoff,
            "max_backoff": self.max_backoff,
            "backoff_type": self.backoff_type.value,
            "parallelism": self.parallelism,
        }
        if self.concurrency is not None:
            out["concurrency"] = self.concurrency
        return out


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
    flow: FlowConfig | None = None
    memoizable: bool = False
    """A success may be reused for the same definition and inputs (no side effects)."""
    _views: dict[str, Any] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )
    """Role views of ``attributes`` (``_view``): a cache, not part of the step's value."""

    @property
    def inputs(self) -> Mapping[str, AttributeSpec]:
        """The inputs the flow's attributes feed (required and optional)."""
        return self._view("inputs", lambda: {n: a for n, a in self._by_role() if a.role.is_input})

    @property
    def const_inputs(self) -> Mapping[str, AttributeSpec]:
        return self._view("const", lambda: dict(self._by_role(Role.CONST)))

    @property
    def meta_inputs(self) -> Mapping[str, AttributeSpec]:
        return self._view("meta", lambda: dict(self._by_role(Role.META)))

    @property
    def runtime_inputs(self) -> tuple[str, ...]:
        """Every name the step's work is given: its inputs, consts and metas."""
        return self._view(
            "runtime", lambda: tuple(n for n, a in self._by_role() if a.role is not Role.OUTPUT)
        )

    @property
    def required_inputs(self) -> tuple[str, ...]:
        return self._view("required", lambda: tuple(n for n, _ in self._by_role(Role.REQUIRED)))

    @property
    def optional_inputs(self) -> tuple[str, ...]:
        return self._view("optional", lambda: tuple(n for n, _ in self._by_role(Role.OPTIONAL)))

    @property
    def outputs(self) -> tuple[str, ...]:
        return self._view("outputs", lambda: tuple(n for n, _ in self._by_role(Role.OUTPUT)))

    @property
    def for_each_inputs(self) -> tuple[str, ...]:
        return self._view(
            "for_each", lambda: tuple(n for n, a in self.attributes.items() if a.for_each)
        )

    def _by_role(self, role: Role | None = None) -> Iterator[tuple[str, AttributeSpec]]:
        return (
            (n, a) for n, a in self.attributes.items() if role is None or a.role is role
        )

    def _view(self, name: str, build: Callable[[], V]) -> V:
        """A view of the attributes by role, built once: the step is immutable, and the
        engine asks for these on every event it decides (they showed in profiles)."""
        views = self._views
        if name not in views:
            views[name] = build()
        return cast(V, views[name])

    @property
    def compensable(self) -> bool:
        """Its succeeded work is undone when the flow fails or is canceled."""
        return self.http is not None and bool(self.http.compensate)

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
        if self.flow is not None:
            out["flow"] = self.flow.to_dict()
        if self.predicate is not None:
            out["predicate"] = self.predicate.to_dict()
        if self.memoizable:
            out["memoizable"] = True
        out["work_config"] = self.work_config.to_dict()
        return out


# --------------------------------------------------------------------- plans


@dataclass(frozen=True, slots=True)
class AttributeEdges:
    providers: tuple[StepID, ...] = ()
    consumers: tuple[StepID, ...] = ()


@dataclass(frozen=True, slots=True)
class Excluded:
    """Steps the planner reached from the goals but left out, each with the names why.

    ``missing``: required inputs nothing can produce (another provider was chosen);
    ``satisfied``: every output already in init; ``blocked``: an input whose collect
    rule init has made impossible (a value for a ``collect: none`` input).
    """

    missing: Mapping[StepID, tuple[str, ...]] = field(default_factory=dict)
    satisfied: Mapping[StepID, tuple[str, ...]] = field(default_factory=dict)
    blocked: Mapping[StepID, tuple[str, ...]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.missing or self.satisfied or self.blocked)

    def to_dict(self) -> dict[str, Any]:
        groups = {"missing": self.missing, "satisfied": self.satisfied, "blocked": self.blocked}
        return {
            reason: {sid: list(names) for sid, names in steps.items()}
            for reason, steps in groups.items()
            if steps
        }


@dataclass(frozen=True, slots=True)
class Plan:
    goals: tuple[StepID, ...]
    required: tuple[str, ...]
    steps: Mapping[StepID, Step]
    attributes: Mapping[str, AttributeEdges]
    children: Mapping[StepID, Plan] = field(default_factory=dict)
    """Each sub-flow step's child plan, computed with the parent's."""
    excluded: Excluded = field(default_factory=Excluded)

    def providers(self, name: str) -> tuple[StepID, ...]:
        edges = self.attributes.get(name)
        return edges.providers if edges else ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "goals": list(self.goals),
            "required": list(self.required),
            "steps": {sid: step.to_dict() for sid, step in self.steps.items()},
            "attributes": {
                name: {"providers": list(e.providers), "consumers": list(e.consumers)}
                for name, e in self.attributes.items()
            },
        }
        if self.children:
            out["children"] = {sid: child.to_dict() for sid, child in self.children.items()}
        if self.excluded:
            out["excluded"] = self.excluded.to_dict()
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
            if sid != ignore and spec.type is not AttrType.ANY and not spec.collect.gathers:
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
