"""Checking request bodies: their shape against ``schema.py``, then the rules across fields.

Shapes are checked by jsonschema_rs validators compiled once, at import: no
schema is built per call (a flow request takes about a microsecond), and
nothing is fetched (``$ref`` point only inside the document). Its errors carry
JSON paths and structured kinds, which ``Shape`` turns into this project's
problems: ``(field, reason)``, the field a dotted path (``http.endpoint``), the
reason saying what was expected and what was sent, in JSON (``got null``).

The rules JSON Schema would say badly stay Python (``step_rules``), and run even
when the shape is wrong, so one answer lists everything; ``checked`` then keeps
one problem per field (the first) in the order the body gave its fields.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from enum import StrEnum
from typing import Any, TypeVar

import jsonschema_rs

from argyll.errors import ValidationError
from argyll.model import schema
from argyll.model.types import (
    STEP_LANGUAGES,
    AttrType,
    Language,
    Role,
    StepType,
    WorkConfig,
    matches_type,
)

Problem = tuple[str, str]
E = TypeVar("E", bound=StrEnum)

_SHOWN_CHARACTERS = 60
_SETTINGS = ("default", "for_each")
_JSON_TYPES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "object": "an object",
    "array": "an array",
    "null": "null",
}


def json_text(value: Any) -> str:
    """A value as JSON for a message (``null``, ``""``, ``3``), cut short when long."""
    text = json.dumps(value, ensure_ascii=False, default=lambda v: f"<{type(v).__name__}>")
    if len(text) <= _SHOWN_CHARACTERS:
        return text
    return text[: _SHOWN_CHARACTERS - 3] + "..."


def _one_of(values: Iterable[Any]) -> str:
    return ", ".join(json_text(value) for value in values)


def _refuse_retrieval(uri: str) -> Any:
    raise ValueError(f"{uri}: the model's schemas refer only to themselves")


class Shape:
    """One shape of ``schema.py``, compiled once; ``problems`` says what a value gets wrong."""

    def __init__(self, name: str) -> None:
        self.document = schema.document(name)
        self._validator = jsonschema_rs.validator_for(self.document, retriever=_refuse_retrieval)

    def problems(self, value: Any) -> list[Problem]:
        try:
            if self._validator.is_valid(value):
                return []
            errors = list(self._validator.iter_errors(value))
        except ValueError as exc:
            return [("body", f"must be JSON data: {exc}")]
        return [problem for error in errors for problem in self._explain(error)]

    def check(self, value: Any) -> None:
        """Raise ``ValidationError`` naming each field that does not fit the shape."""
        problems = self.problems(value)
        if problems:
            checked(value, problems)

    def _explain(self, error: Any) -> Iterator[Problem]:
        kind, details = error.kind.name, error.kind.as_dict()
        where = _field(error.instance_path)
        if kind == "additionalProperties":
            known = list(self._schema_at(error.schema_path[:-1])["properties"])
            for name in details["unexpected"]:
                yield _join(where, name), f"unknown field; expected one of {_one_of(known)}"
        elif kind == "required":
            name = details["property"]
            properties = self._schema_at(error.schema_path[:-1]).get("properties", {})
            expected = properties.get(name, {}).get("description")
            yield _join(where, name), f"is required ({expected})" if expected else "is required"
        elif kind == "propertyNames":
            inner, name = details["error"], details["error"].instance
            pattern = _shown(inner.kind.as_dict()["pattern"])
            yield _join(where, name), f"must match {pattern}, got {json_text(name)}"
        elif kind in ("oneOf", "anyOf"):
            yield from self._alternatives(error, details["context"])
        else:
            yield where or "body", self._reason(kind, details, error)

    def _alternatives(self, error: Any, branches: Sequence[Sequence[Any]]) -> Iterator[Problem]:
        """What is wrong inside the alternatives the value's JSON type fits, else its type."""
        path = list(error.instance_path)
        fitting = [
            branch
            for branch in branches
            if not any(e.kind.name == "type" and list(e.instance_path) == path for e in branch)
        ]
        if fitting:
            for branch in fitting:
                for inner in branch:
                    yield from self._explain(inner)
            return
        types = [t for branch in branches for e in branch for t in e.kind.as_dict()["types"]]
        yield _field(path) or "body", f"must be {_types(types)}, got {json_text(error.instance)}"

    def _reason(self, kind: str, details: Mapping[str, Any], error: Any) -> str:
        got = f"got {json_text(error.instance)}"
        match kind:
            case "type":
                return f"must be {_types(details['types'])}, {got}"
            case "enum":
                return f"must be one of {_one_of(details['options'])}, {got}"
            case "minimum":
                return f"must be at least {details['limit']}, {got}"
            case "maximum":
                return f"must be at most {details['limit']}, {got}"
            case "minItems" if details["limit"] == 1:
                return f"must not be empty, {got}"
            case "minItems":
                return f"must have at least {details['limit']} items, {got}"
            case "pattern":
                expected = self._schema_at(error.schema_path[:-1]).get("description")
                if expected:
                    return f"must be {expected}, {got}"
                return f"must match {_shown(details['pattern'])}, {got}"
            case "not":
                refused = " or ".join(map(json_text, details["schema"]["enum"]))
                return f"must not be {refused}, {got}"
        return f"{error.message}, {got}"

    def _schema_at(self, path: Iterable[str | int]) -> Mapping[str, Any]:
        node: Any = self.document
        for key in path:
            node = node[key]
        return node


def _field(path: Iterable[str | int]) -> str:
    return ".".join(str(key) for key in path)


def _join(where: str, name: Any) -> str:
    return f"{where}.{name}" if where else str(name)


def _shown(pattern: str) -> str:
    """A whole-string pattern as people write it: ``[A-Za-z0-9_.-]+``, not ``^...$``."""
    return pattern.removeprefix("^").removesuffix("$")


def _types(names: Iterable[str]) -> str:
    return " or ".join(dict.fromkeys(_JSON_TYPES.get(name, name) for name in names))


def checked(body: Any, problems: Iterable[Problem]) -> None:
    """Raise every problem, one per field, in the order of the body's fields; or nothing."""
    first: dict[str, str] = {}
    for where, reason in problems:
        first.setdefault(where, reason)
    if not first:
        return
    order = {key: index for index, key in enumerate(body)} if isinstance(body, dict) else {}
    fields = sorted(first, key=lambda where: order.get(where.split(".", 1)[0], len(order)))
    raise ValidationError([(where, first[where]) for where in fields])


STEP_DEFINITION = Shape(schema.NEW_STEP_DEFINITION)
FLOW_REQUEST = Shape(schema.FLOW_REQUEST)
PLAN_REQUEST = Shape(schema.PLAN_REQUEST)
ACTION_REQUEST = Shape(schema.ACTION_REQUEST)
RETRY_REQUEST = Shape(schema.RETRY_REQUEST)
COMPLETE_REQUEST = Shape(schema.COMPLETE_REQUEST)
FLOW_QUERY = Shape(schema.FLOW_QUERY)


# ------------------------------------------------------------- step rules


def check_step_definition(data: Any, step_id: str | None = None) -> Mapping[str, Any]:
    """A step definition (docs/steps.md) that is known to be valid, its ``id`` filled from the path.

    Raises ``ValidationError`` naming each field that is wrong; ``step_id`` (from a
    URL) must agree with the body's ``id`` when both are given.
    """
    if step_id is not None and isinstance(data, dict) and "id" not in data:
        data = {"id": step_id, **data}
    checked(data, [*STEP_DEFINITION.problems(data), *step_rules(data, step_id)])
    return data


def step_rules(data: Any, step_id: str | None = None) -> Iterator[Problem]:
    """The rules of docs/steps.md that span fields; each looks only at parts of the right shape."""
    if not isinstance(data, dict):
        return
    ident = data.get("id")
    if step_id is not None and isinstance(ident, str) and ident != step_id:
        path_id = json_text(step_id)
        yield "id", f"{json_text(ident)} does not match the step id {path_id} in the path"
    step_type = member(StepType, data.get("type"))
    if step_type is not None:
        yield from _type_rules(data, step_type)
    attributes = data.get("attributes")
    if isinstance(attributes, dict):
        for name, spec in attributes.items():
            if isinstance(spec, dict):
                yield from _attribute_rules(f"attributes.{name}", spec)
        yield from _inner_name_rules(attributes)
    http = data.get("http")
    if data.get("memoizable") is True and isinstance(http, dict) and "compensate" in http:
        yield "memoizable", "is not allowed on a step with http.compensate (it has side effects)"
    work = data.get("work_config")
    if isinstance(work, dict):
        yield from _work_config_rules(work)


_CONFIG_OF = {StepType.SCRIPT: "script", StepType.FLOW: "flow"}
"""The configuration object each step type needs; every other type needs ``http``."""
_CONFIGS = ("http", "script", "flow")


def _type_rules(data: Mapping[str, Any], step_type: StepType) -> Iterator[Problem]:
    """The step type decides which one of ``http``, ``script`` and ``flow`` it has."""
    wanted = _CONFIG_OF.get(step_type, "http")
    kind = json_text(step_type.value)
    if wanted not in data:
        yield wanted, f"is required for {kind} steps"
    for refused in _CONFIGS:
        if refused != wanted and refused in data:
            yield refused, f"is not allowed on {kind} steps"
    http = data.get("http")
    if step_type is StepType.SYNC and isinstance(http, dict) and "callback_timeout" in http:
        yield "http.callback_timeout", 'is only for "async" steps'
    script = data.get("script")
    language = member(Language, script.get("language")) if isinstance(script, dict) else None
    if language is not None and language not in STEP_LANGUAGES:
        allowed = " or ".join(json_text(lang.value) for lang in STEP_LANGUAGES)
        yield "script.language", f"must be {allowed} for a script step, got {json_text(language)}"


def _inner_name_rules(attributes: Mapping[str, Any]) -> Iterator[Problem]:
    """What the service sees must be unambiguous: one inner name per input, per output."""
    seen: dict[tuple[bool, str], str] = {}
    for name, spec in attributes.items():
        role = member(Role, spec.get("role")) if isinstance(spec, dict) else None
        if role is None:
            continue
        settings = spec.get(role.value)
        mapping = settings.get("mapping") if isinstance(settings, dict) else None
        inner = mapping.get("name") if isinstance(mapping, dict) else None
        key = (role is Role.OUTPUT, inner if isinstance(inner, str) else name)
        if key in seen:
            other = json_text(seen[key])
            where = f"attributes.{name}" + (f".{role.value}.mapping.name" if inner else "")
            yield where, f"gives the service the name {json_text(key[1])}, as {other} does"
        else:
            seen[key] = name


def member(values: type[E], value: Any) -> E | None:
    """The enum member a JSON value names, or None."""
    return _members(values).get(value) if isinstance(value, str) else None


@functools.cache
def _members(values: type[E]) -> dict[str, E]:
    return {item.value: item for item in values}


def role_settings(spec: Mapping[str, Any]) -> dict[str, tuple[str, Any]]:
    """An attribute's settings (``default``, ``for_each``) as ``{key: (field, value)}``.

    Each may be given flat or in the nested form of its role; the field is where it was given.
    """
    role = spec.get("role")
    settings = {key: (key, spec[key]) for key in _SETTINGS if key in spec}
    nested = spec.get(role) if isinstance(role, str) and role in schema.NESTED_ROLE_FORMS else None
    if isinstance(nested, dict):
        settings.update({key: (f"{role}.{key}", nested[key]) for key in _SETTINGS if key in nested})
    return settings


def _attribute_rules(where: str, spec: Mapping[str, Any]) -> Iterator[Problem]:
    role = member(Role, spec.get("role"))
    attr_type = member(AttrType, spec.get("type", "any"))
    for form in schema.NESTED_ROLE_FORMS:
        if form in spec and role is not None and role != form:
            yield f"{where}.{form}", f"only allowed when role is {json_text(form)}"
    settings = role_settings(spec)
    for key, (at, value) in settings.items():
        if key in spec and at != key and spec[key] != value:
            yield f"{where}.{at}", f"differs from {where}.{key}; give it once"
    if role is None:
        return
    if role in (Role.CONST, Role.META) and not isinstance(spec.get(role.value), dict):
        yield f"{where}.{role.value}", f"is required for {json_text(role.value)} attributes"
    const = spec.get(Role.CONST.value)
    if role is Role.CONST and isinstance(const, dict) and isinstance(const.get("value"), str):
        yield from _json_value_rules(f"{where}.const.value", attr_type, const["value"])
    if "default" in settings and isinstance(settings["default"][1], str):
        at, default = settings["default"]
        yield from _default_rules(f"{where}.{at}", role, attr_type, default)
    if "for_each" in settings and settings["for_each"][1] is True:
        yield from _for_each_rules(f"{where}.{settings['for_each'][0]}", role, attr_type)


def _default_rules(
    where: str, role: Role, attr_type: AttrType | None, default: str
) -> Iterator[Problem]:
    if role is not Role.OPTIONAL:
        yield where, f"only allowed on optional inputs, not on a {json_text(role.value)} one"
        return
    yield from _json_value_rules(where, attr_type, default)


def _json_value_rules(where: str, attr_type: AttrType | None, default: str) -> Iterator[Problem]:
    """A value given as JSON text must parse and be of the attribute's type."""
    try:
        value = json.loads(default)
    except ValueError:
        yield where, f'must be a JSON text (e.g. "1" or "\\"NONE\\""), got {json_text(default)}'
        return
    if attr_type is not None and not matches_type(value, attr_type):
        yield where, f"must be JSON of type {json_text(attr_type.value)}, got {json_text(default)}"


def _for_each_rules(where: str, role: Role, attr_type: AttrType | None) -> Iterator[Problem]:
    if not role.is_input:
        yield where, "only allowed on required and optional inputs"
    elif attr_type is not None and attr_type not in (AttrType.ARRAY, AttrType.ANY):
        yield (
            where,
            (f'only allowed on inputs of type "array" or "any", not {json_text(attr_type.value)}'),
        )


def _work_config_rules(work: Mapping[str, Any]) -> Iterator[Problem]:
    low, high = work.get("init_backoff", WorkConfig().init_backoff), work.get("max_backoff")
    if _is_integer(low) and _is_integer(high) and high < low:
        yield "work_config.max_backoff", f"must not be below init_backoff ({low}), got {high}"


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
