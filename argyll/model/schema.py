"""The shapes of step definitions and of flow and plan requests, declared once as JSON Schema.

JSON Schema 2020-12, the dialect of OpenAPI 3.1: ``validation.py`` checks
request bodies against these declarations and ``server/openapi.py`` embeds
them, so the API document cannot drift from what the engine accepts. Enum
values come from the model's enums. Every object closes its properties
(``additionalProperties: false``): a field the docs do not define is refused,
never dropped. Only shapes live here; rules across fields (the step type
decides http or script, defaults parse and fit the type, ...) are Python, in
``validation.py``. A patterned string's ``description`` completes "must be ..."
in the message its failure gives (else the message shows the pattern).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from argyll.model.types import (
    DEFAULT_PAGE,
    DEFAULT_TIMEOUT_MS,
    ID_PATTERN,
    MAX_PAGE,
    AttrType,
    BackoffType,
    Collect,
    FlowStatus,
    HttpMethod,
    Language,
    MetaKey,
    Role,
    StepType,
    WorkConfig,
)

Schema = dict[str, Any]

LOCAL_REFS = "#/$defs/"
"""Where the ``$ref`` of a standalone document point; OpenAPI moves them to its components."""

STEP_DEFINITION = "StepDefinition"
NEW_STEP_DEFINITION = "NewStepDefinition"
STEP = "Step"
FLOW_REQUEST = "FlowRequest"
PLAN_REQUEST = "PlanRequest"
ACTION_REQUEST = "ActionRequest"
RETRY_REQUEST = "RetryRequest"
COMPLETE_REQUEST = "CompleteRequest"
FLOW_QUERY = "FlowQuery"

NESTED_ROLE_FORMS: tuple[str, ...] = tuple(role.value for role in Role)
"""Each role's settings object: ``{"role": "optional", "optional": {...}}`` (only its own)."""
MAX_DEADLINE_MS = 365 * 24 * 3600 * 1000

_NAME = f"^{ID_PATTERN.pattern}$"
NOT_DOTS = {"not": {"enum": [".", ".."]}}
"""What cannot travel as a URL path segment: clients resolve "." and ".." away."""
_URL = {"type": "string", "pattern": "^https?://", "description": "an http(s) URL"}
LABELS = {
    "type": "object",
    "additionalProperties": {"type": "string"},
    "description": "labels: a string value per name",
}


def enum_schema(values: type[StrEnum], description: str = "") -> Schema:
    """A schema of one of an enum's values."""
    schema: Schema = {"enum": [member.value for member in values]}
    if description:
        schema["description"] = description
    return schema


def closed_object(required: list[str], /, **properties: Schema) -> Schema:
    """An object with exactly these properties; any other field is refused."""
    schema: Schema = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


def id_schema() -> Schema:
    """An id: a name that can also travel as a URL path segment (so neither "." nor "..")."""
    return {"type": "string", "pattern": _NAME, **NOT_DOTS}


def _integer(minimum: int, description: str) -> Schema:
    return {"type": "integer", "minimum": minimum, "description": description}


def _any_case(values: type[StrEnum]) -> Schema:
    """One of an enum's values, upper or lower case letter by letter (``get``, ``Get``)."""
    letters = ("".join(f"[{c.upper()}{c.lower()}]" for c in m.value) for m in values)
    names = [member.value for member in values]
    return {
        "type": "string",
        "pattern": f"^({'|'.join(letters)})$",
        "description": f"{', '.join(names[:-1])} or {names[-1]} (in any letter case)",
    }


def _role_forms(ref: str, default: Schema, for_each: Schema) -> dict[str, Schema]:
    """The settings object of each role (``required: {...}``, ``const: {...}``, ...)."""
    collect = enum_schema(Collect, "how several providers' values become the input's")
    mapping = {"$ref": ref + "AttributeMapping"}
    return {
        Role.REQUIRED.value: closed_object(
            [],
            for_each=for_each,
            collect=collect,
            match={"$ref": ref + "ScriptConfig"},
            mapping=mapping,
        ),
        Role.OPTIONAL.value: closed_object(
            [],
            default=default,
            for_each=for_each,
            collect=collect,
            deadline={
                **_integer(0, "milliseconds to wait for providers once the step could run"),
                "maximum": MAX_DEADLINE_MS,
            },
            mapping=mapping,
        ),
        Role.CONST.value: closed_object(
            ["value"], value={**default, "description": "a JSON text of the attribute's type"}
        ),
        Role.META.value: closed_object(["key"], key=enum_schema(MetaKey)),
        Role.OUTPUT.value: closed_object([], mapping=mapping),
    }


def _step_schemas(ref: str) -> dict[str, Schema]:
    default = {
        "type": "string",
        "description": 'a JSON text of the attribute\'s type, e.g. "1" or "\\"NONE\\""',
    }
    for_each = {"type": "boolean", "description": "fan out over the array's elements"}
    base = WorkConfig()
    script = {"type": "string", "pattern": r"\S", "description": "a non-empty script"}
    return {
        "ScriptConfig": closed_object(
            ["language", "script"], language=enum_schema(Language), script=script
        ),
        "AttributeMapping": {
            **closed_object(
                [],
                name={"type": "string", "pattern": r"\S", "description": "the service's name"},
                script={"$ref": ref + "ScriptConfig"},
            ),
            "minProperties": 1,
        },
        "FlowConfig": closed_object(
            ["goals"],
            goals={"type": "array", "items": id_schema(), "minItems": 1},
        ),
        "HttpConfig": closed_object(
            ["endpoint"],
            endpoint=_URL,
            method=_any_case(HttpMethod),
            health_check=_URL,
            timeout=_integer(1, f"milliseconds (default {DEFAULT_TIMEOUT_MS})"),
            callback_timeout=_integer(
                1, "milliseconds an async step's webhook may take after the acknowledgement"
            ),
            compensate={
                **_URL,
                "description": "an http(s) URL that undoes a succeeded item",
            },
        ),
        "WorkConfig": closed_object(
            [],
            max_retries=_integer(-1, "retries after the first call: 0 the default, -1 unlimited"),
            init_backoff=_integer(0, f"milliseconds (default {base.init_backoff})"),
            max_backoff=_integer(0, f"milliseconds (default {base.max_backoff})"),
            backoff_type=enum_schema(BackoffType),
            parallelism=_integer(1, "work items running at once (default 1)"),
            concurrency=_integer(
                1, "the step's work items running at once across every flow and engine"
            ),
        ),
        "AttributeDefinition": closed_object(
            ["role"],
            role=enum_schema(Role),
            type=enum_schema(AttrType, "default any"),
            default={**default, "description": default["description"] + "; optional inputs"},
            for_each=for_each,
            **_role_forms(ref, default, for_each),
        ),
        STEP_DEFINITION: closed_object(
            ["type"],
            id=id_schema(),
            name={"type": "string", "description": "defaults to the id"},
            type=enum_schema(StepType),
            version={"type": "string"},
            labels=LABELS,
            attributes={
                "type": "object",
                "propertyNames": {"pattern": _NAME},
                "additionalProperties": {"$ref": ref + "AttributeDefinition"},
            },
            http={"$ref": ref + "HttpConfig"},
            script={"$ref": ref + "ScriptConfig"},
            flow={"$ref": ref + "FlowConfig"},
            predicate={"$ref": ref + "ScriptConfig"},
            memoizable={"type": "boolean", "description": "reuse a success for the same inputs"},
            work_config={"$ref": ref + "WorkConfig"},
        ),
        NEW_STEP_DEFINITION: {
            "allOf": [{"$ref": ref + STEP_DEFINITION}],
            "required": ["id"],
        },
        STEP: {
            "allOf": [{"$ref": ref + STEP_DEFINITION}],
            "required": ["id", "name", "type", "attributes", "work_config"],
            "description": "a step as read back: a definition that registers the same step",
        },
    }


def _request_schemas() -> dict[str, Schema]:
    goals = {
        "oneOf": [
            {"type": "string"},
            {"type": "array", "items": {"type": "string"}, "minItems": 1},
        ],
        "description": "goal step ids; one id may be given as a string",
    }
    init = {"type": "object", "description": "initial attributes, a value per name"}
    return {
        PLAN_REQUEST: closed_object(["goals"], goals=goals, init=init),
        FLOW_REQUEST: closed_object(
            ["goals"],
            id=id_schema(),
            goals=goals,
            init=init,
            timeout=_integer(1, "milliseconds until an unfinished flow fails"),
            labels=LABELS,
        ),
        FLOW_QUERY: _flow_query(),
        **_operator_schemas(),
    }


def _flow_query() -> Schema:
    """A query of the flow index (``argyll.flow_query``): filters, order, page size, cursor."""
    moment = {"type": "string", "description": "an ISO-8601 time"}
    return closed_object(
        [],
        statuses={
            "type": "array",
            "items": enum_schema(FlowStatus),
            "description": "flows in any of these statuses",
        },
        labels={**LABELS, "description": "flows that carry every one of these labels"},
        goals={
            "type": "array",
            "items": id_schema(),
            "description": "flows whose goals include every one of these steps",
        },
        id_prefix={"type": "string", "description": "flows whose id starts with this"},
        parent={**id_schema(), "description": "the child flows of this flow"},
        created_after={**moment, "description": "flows created after this ISO-8601 time"},
        created_before={**moment, "description": "flows created before this ISO-8601 time"},
        sort={
            "enum": ["-created_at", "created_at"],
            "description": "newest first (-created_at, the default) or oldest first",
        },
        limit={
            **_integer(1, f"flows per page (default {DEFAULT_PAGE})"),
            "maximum": MAX_PAGE,
        },
        cursor={
            "type": ["string", "null"],
            "description": "the next_cursor of the page before (null or absent: the first page)",
        },
    )


def _operator_schemas() -> dict[str, Schema]:
    """Bodies of the calls that operate a flow: each may say why (``reason``)."""
    reason = {"type": "string", "description": "why, recorded with the event"}
    step_ids = {"type": "array", "items": id_schema(), "description": "step ids"}
    outputs = {"type": "object", "description": "output attributes, a value per name"}
    return {
        ACTION_REQUEST: closed_object([], reason=reason),
        RETRY_REQUEST: closed_object(
            [],
            steps={**step_ids, "description": "steps to run again (default: the failed ones)"},
            complete={
                "type": "object",
                "propertyNames": {"pattern": _NAME},
                "additionalProperties": outputs,
                "description": "steps to complete by hand first, with their outputs",
            },
            skip={**step_ids, "description": "steps to skip by hand first"},
            reason=reason,
        ),
        COMPLETE_REQUEST: closed_object(["outputs"], outputs=outputs, reason=reason),
    }


def definitions(ref: str = LOCAL_REFS) -> dict[str, Schema]:
    """Every named shape, its ``$ref`` pointing under ``ref`` (``#/components/schemas/``...)."""
    return {**_step_schemas(ref), **_request_schemas()}


def document(name: str) -> Schema:
    """A standalone JSON Schema document of one named shape, every shape in its ``$defs``."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": LOCAL_REFS + name,
        "$defs": definitions(),
    }
