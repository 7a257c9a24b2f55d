"""The components of the OpenAPI document: the shapes the API answers with (plans, flows,
events, explanations, problems) beside the model's own request schemas, and the shared
problem responses.

The request bodies and step shapes are not written here: they are
``argyll.model.schema``'s definitions, the very declarations requests are validated
against. The problem body lists every structured field a row of ``argyll.problems``
can add, each with its schema in ``PROBLEM_FIELD_SCHEMAS``.
"""

from __future__ import annotations

from argyll.explain import LEFT_OUT_REASONS, REASONS
from argyll.model import FlowStatus, HealthStatus, StepStatus, WorkStatus
from argyll.model import schema as model_schema
from argyll.model.schema import enum_schema
from argyll.problems import BY_TYPE, PROBLEM_TYPES, UNTYPED
from argyll.server.openapi_paging import event_page_schema, flow_page_schema
from argyll.server.openapi_shapes import (
    COMPONENTS,
    ERRORS,
    OBJECT,
    STRINGS,
    TIME,
    Schema,
    map_of,
    obj,
    ref,
)
from argyll.wire import PROBLEM_CONTENT_TYPE


def _excluded_schema() -> Schema:
    """Steps the goals reached but the plan left out, each with the attribute names why."""
    groups = {
        "missing": "required inputs that cannot be satisfied (another provider was chosen)",
        "satisfied": "outputs init already holds",
        "blocked": "collect: none inputs init gives a value",
    }
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            name: {**map_of(STRINGS), "description": why} for name, why in groups.items()
        },
    }


def _step_schemas() -> dict[str, Schema]:
    return {
        "StepMessage": obj(["message", "step"], message={"type": "string"}, step=ref("Step")),
        "Health": obj(["status"], status=enum_schema(HealthStatus), error={"type": "string"}),
    }


def _flow_schemas() -> dict[str, Schema]:
    work_item = obj(
        ["status", "inputs", "retry_count"],
        status=enum_schema(WorkStatus),
        inputs=OBJECT,
        outputs=OBJECT,
        error={"type": "string"},
        retry_count={"type": "integer"},
        next_retry_at=TIME,
        owner={"type": "string", "description": "the engine instance running the attempt"},
        started_at=TIME,
        memo={
            **obj(["flow_id", "seq"], flow_id={"type": "string"}, seq={"type": "integer"}),
            "description": "the outputs were a memo hit: the work_succeeded that produced them",
        },
        completed_seq={
            "type": "integer",
            "description": "the event that recorded a compensable item's success (its order)",
        },
    )
    execution = obj(
        ["status", "inputs", "work_items"],
        status=enum_schema(StepStatus),
        started_at=TIME,
        completed_at=TIME,
        inputs=OBJECT,
        outputs=OBJECT,
        error={"type": "string"},
        reason={"type": "string"},
        unsatisfied={**STRINGS, "description": "the inputs that ended the step without running"},
        duration={"type": "integer", "description": "milliseconds"},
        work_items=map_of(ref("WorkItem")),
    )
    status = enum_schema(FlowStatus)
    return {
        "Plan": obj(
            ["goals", "required", "steps", "attributes"],
            goals=STRINGS,
            required=STRINGS,
            steps=map_of(ref("Step")),
            attributes=map_of(
                obj(["providers", "consumers"], providers=STRINGS, consumers=STRINGS)
            ),
            children={
                **map_of(ref("Plan")),
                "description": "each sub-flow step's child plan, by step id",
            },
            excluded=_excluded_schema(),
        ),
        "FlowSummary": obj(
            ["id", "status", "created_at"],
            id={"type": "string"},
            status=status,
            created_at=TIME,
            completed_at=TIME,
            error={"type": "string"},
            labels=model_schema.LABELS,
            parent={"type": "string", "description": "a child flow's parent flow"},
            goals={**STRINGS, "description": "the flow's goal steps"},
        ),
        "FlowPage": flow_page_schema(),
        "WorkItem": work_item,
        "Execution": execution,
        "FlowState": obj(
            [
                "id",
                "status",
                "created_at",
                "last_updated",
                "plan",
                "init",
                "attributes",
                "executions",
            ],
            id={"type": "string"},
            status=status,
            created_at=TIME,
            completed_at=TIME,
            last_updated=TIME,
            error={"type": "string"},
            deadline={**TIME, "description": "when an unfinished flow fails (its timeout)"},
            deactivated_at={
                **TIME,
                "description": "when the ended flow had no work or compensation left",
            },
            compensation=ref("Compensation"),
            labels=model_schema.LABELS,
            parent={
                **obj(
                    ["flow_id", "step_id", "token"],
                    flow_id={"type": "string"},
                    step_id={"type": "string"},
                    token={"type": "string"},
                ),
                "description": "a child flow's parent: the flow, its sub-flow step, the item",
            },
            plan=ref("Plan"),
            init=OBJECT,
            attributes=map_of(_attribute_value()),
            executions=map_of(ref("Execution")),
        ),
        "Operated": obj(
            ["message", "flow_id", "status"],
            message={"type": "string"},
            flow_id={"type": "string"},
            status=status,
        ),
        "Explanation": _explanation_schema(),
        "Compensation": obj(
            ["status", "compensated", "failed", "pending"],
            status={"enum": ["compensating", "compensated", "failed"]},
            compensated={"type": "integer"},
            failed={"type": "integer"},
            pending={"type": "integer"},
            failures=_failures_schema(),
        ),
        "Event": obj(
            ["type", "aggregate", "seq", "timestamp", "data"],
            type={"type": "string"},
            aggregate={"type": "string", "description": '"catalog" or "flow:<id>"'},
            seq={"type": "integer", "minimum": 1},
            timestamp=TIME,
            data=OBJECT,
            position={
                "type": "string",
                "description": "where the event is in the feed (opaque): give it as `after`",
            },
        ),
        "EventPage": event_page_schema(),
    }


def _failures_schema() -> Schema:
    """The compensations that failed for good: step, token, error."""
    failure = obj(
        ["step_id", "token", "error"],
        step_id={"type": "string"},
        token={"type": "string"},
        error={"type": ["string", "null"]},
    )
    return {"type": "array", "items": failure}


def _attribute_value() -> Schema:
    """An attribute: its first value, its step, and every value once several steps gave one."""
    step = {"type": ["string", "null"]}
    candidate = obj(["value", "step"], value={}, step=step)
    values = {"type": "array", "items": candidate, "description": "in completion order"}
    return obj(["value", "step"], value={}, step=step, values=values)


def _explanation_schema() -> Schema:
    reason = {"enum": list(REASONS), "description": "why the step is where it is"}
    entry = obj(["status", "reason", "detail"], status=enum_schema(StepStatus), reason=reason)
    entry["properties"]["detail"] = OBJECT
    left_out = obj(
        ["reason", "detail"],
        reason={"enum": list(LEFT_OUT_REASONS)},
        detail=OBJECT,
    )
    return obj(
        ["flow_id", "status", "steps", "not_in_plan"],
        flow_id={"type": "string"},
        status=enum_schema(FlowStatus),
        steps=map_of(entry),
        not_in_plan=map_of(left_out),
        compensation=ref("Compensation"),
    )


PROBLEM_FIELD_SCHEMAS: dict[str, Schema] = {
    "problems": {
        "type": "array",
        "items": obj(["field", "reason"], field={"type": "string"}, reason={"type": "string"}),
    },
    "inputs": STRINGS,
    "goals": STRINGS,
    "kind": {"type": "string", "description": "what was looked for, e.g. step or flow"},
    "ident": {"type": "string", "description": "the id that names nothing"},
    "size": {"type": "integer", "description": "the body's size in bytes"},
    "limit": {"type": "integer", "description": "the server's limit in bytes"},
    "scope": {"type": "string", "description": "the scope the call needs"},
    "retry_after": {
        "type": "integer",
        "description": "seconds to wait before asking again (also the Retry-After header)",
    },
}
"""The schema of each structured field a row of ``argyll.problems`` adds to its body."""


def _problem_schema() -> Schema:
    fields = sorted({name for row in PROBLEM_TYPES for name in row.fields})
    problem = obj(
        ["type", "title", "status", "detail"],
        type={"enum": [*sorted(BY_TYPE), UNTYPED]},
        title={"type": "string"},
        status={"type": "integer"},
        detail={"type": "string"},
        **{name: PROBLEM_FIELD_SCHEMAS[name] for name in fields},
    )
    problem["description"] = "RFC 9457 problem details"
    return problem


def components() -> Schema:
    problem = {PROBLEM_CONTENT_TYPE: {"schema": ref("Problem")}}
    responses = {
        f"Problem{status}": {"description": text, "content": problem}
        for status, text in {**ERRORS, 500: "The server failed; the detail is in its log"}.items()
    }
    schemas = {
        **model_schema.definitions(COMPONENTS),
        **_step_schemas(),
        **_flow_schemas(),
        "Problem": _problem_schema(),
        "Message": obj(["message"], message={"type": "string"}),
    }
    bearer = {"type": "http", "scheme": "bearer", "description": "a token of the tokens file"}
    return {"schemas": schemas, "responses": responses, "securitySchemes": {"bearer": bearer}}
