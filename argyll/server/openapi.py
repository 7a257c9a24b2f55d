"""The OpenAPI 3.1 document of the HTTP API (served at ``/engine/openapi.json``).

Built in Python rather than kept as a JSON file so that the shared pieces (ids,
problem responses) are written once. The request bodies and step shapes are
not written here at all: they are the model's JSON Schema
(``argyll.model.schema``), the very declarations requests are validated
against, and every enum comes from the model's enums. Tests run schemathesis
against it, so it must say exactly what the handlers do.
"""

from __future__ import annotations

import functools
from typing import Any

from argyll import __version__, wire
from argyll.access import scope_for
from argyll.events import EVENT_TYPES
from argyll.explain import LEFT_OUT_REASONS, REASONS
from argyll.model import DEFAULT_PAGE, ID_PATTERN, FlowStatus, HealthStatus, StepStatus, WorkStatus
from argyll.model import schema as model_schema
from argyll.model.schema import NOT_DOTS, enum_schema, id_schema
from argyll.problems import BY_TYPE, PROBLEM_TYPES, UNTYPED
from argyll.server.feed import MAX_PAGE
from argyll.wire import JSON_CONTENT_TYPE, MAX_WAIT, PROBLEM_CONTENT_TYPE

Schema = dict[str, Any]

_ID_QUERY = {"type": "string", "pattern": f"^{ID_PATTERN.pattern}$"}
_ID = id_schema()
_COMPONENTS = "#/components/schemas/"
_SEGMENT = {"type": "string", "minLength": 1, **NOT_DOTS}
_TIME = {"type": "string", "format": "date-time"}
_STRINGS = {"type": "array", "items": {"type": "string"}}
_OBJECT = {"type": "object"}


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
            name: {**_map(_STRINGS), "description": why} for name, why in groups.items()
        },
    }


_WAIT_QUERY = {
    "name": "wait",
    "in": "query",
    "description": f"seconds to wait for the flow to end (more than {MAX_WAIT:g} count as it)",
    "schema": {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$"},
}
_AFTER_QUERY = {
    "name": "after",
    "in": "query",
    "description": "a position the feed gave (an event's `position`, a page's `next_after`)",
    "schema": {"type": "string"},
}
_EVENT_TYPE = f"(?:{'|'.join(sorted(EVENT_TYPES))})"


def _listed_query(name: str, description: str, item: str) -> Schema:
    """A query parameter repeated, each value one ``item`` or several joined by commas."""
    listed = {"type": "string", "pattern": f"^{item}(?:,{item})*$"}
    return {
        "name": name,
        "in": "query",
        "description": description,
        "schema": {"type": "array", "items": listed},
        "style": "form",
        "explode": True,
    }


def _ref(name: str) -> Schema:
    return {"$ref": _COMPONENTS + name}


def _obj(required: list[str], /, **properties: Any) -> Schema:
    return {"type": "object", "required": required, "properties": properties}


def _map(values: Schema) -> Schema:
    return {"type": "object", "additionalProperties": values}


def _json(schema: Schema, description: str = "OK") -> Schema:
    return {"description": description, "content": {JSON_CONTENT_TYPE: {"schema": schema}}}


_ERRORS = {
    400: "Invalid request: the body, a parameter or the request made no sense",
    401: "No token, or one the server does not know (when tokens are configured)",
    403: "The token's scopes do not allow this call",
    404: "No such resource",
    409: "The request conflicts with what exists",
    413: "The request body is over the server's limit",
}


def _responses(ok: dict[int, Schema], *errors: int) -> Schema:
    responses: Schema = {str(status): schema for status, schema in ok.items()}
    for status in errors:
        responses[str(status)] = {"$ref": f"#/components/responses/Problem{status}"}
    responses["500"] = {"$ref": "#/components/responses/Problem500"}
    return responses


def _body(schema: Schema, description: str, *, required: bool = True) -> Schema:
    return {
        "required": required,
        "description": description,
        "content": {JSON_CONTENT_TYPE: {"schema": schema}},
    }


def _path_param(name: str, description: str, schema: Schema | None = None) -> Schema:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": schema or _ID,
    }


# ------------------------------------------------------------------ schemas


def _step_schemas() -> dict[str, Schema]:
    return {
        "StepMessage": _obj(["message", "step"], message={"type": "string"}, step=_ref("Step")),
        "Health": _obj(["status"], status=enum_schema(HealthStatus), error={"type": "string"}),
    }


def _flow_schemas() -> dict[str, Schema]:
    work_item = _obj(
        ["status", "inputs", "retry_count"],
        status=enum_schema(WorkStatus),
        inputs=_OBJECT,
        outputs=_OBJECT,
        error={"type": "string"},
        retry_count={"type": "integer"},
        next_retry_at=_TIME,
        owner={"type": "string", "description": "the engine instance running the attempt"},
        started_at=_TIME,
        memo={
            **_obj(["flow_id", "seq"], flow_id={"type": "string"}, seq={"type": "integer"}),
            "description": "the outputs were a memo hit: the work_succeeded that produced them",
        },
        completed_seq={
            "type": "integer",
            "description": "the event that recorded a compensable item's success (its order)",
        },
    )
    execution = _obj(
        ["status", "inputs", "work_items"],
        status=enum_schema(StepStatus),
        started_at=_TIME,
        completed_at=_TIME,
        inputs=_OBJECT,
        outputs=_OBJECT,
        error={"type": "string"},
        reason={"type": "string"},
        unsatisfied={**_STRINGS, "description": "the inputs that ended the step without running"},
        duration={"type": "integer", "description": "milliseconds"},
        work_items=_map(_ref("WorkItem")),
    )
    status = enum_schema(FlowStatus)
    return {
        "Plan": _obj(
            ["goals", "required", "steps", "attributes"],
            goals=_STRINGS,
            required=_STRINGS,
            steps=_map(_ref("Step")),
            attributes=_map(
                _obj(["providers", "consumers"], providers=_STRINGS, consumers=_STRINGS)
            ),
            children={
                **_map(_ref("Plan")),
                "description": "each sub-flow step's child plan, by step id",
            },
            excluded=_excluded_schema(),
        ),
        "FlowSummary": _obj(
            ["id", "status", "created_at"],
            id={"type": "string"},
            status=status,
            created_at=_TIME,
            completed_at=_TIME,
            error={"type": "string"},
            labels=model_schema.LABELS,
            parent={"type": "string", "description": "a child flow's parent flow"},
            goals={**_STRINGS, "description": "the flow's goal steps"},
        ),
        "FlowPage": _obj(
            ["flows", "count", "next_cursor"],
            flows={"type": "array", "items": _ref("FlowSummary")},
            count={"type": "integer"},
            next_cursor={
                "type": ["string", "null"],
                "description": "give it as cursor for the next page; null: this is the last",
            },
        ),
        "WorkItem": work_item,
        "Execution": execution,
        "FlowState": _obj(
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
            created_at=_TIME,
            completed_at=_TIME,
            last_updated=_TIME,
            error={"type": "string"},
            deadline={**_TIME, "description": "when an unfinished flow fails (its timeout)"},
            deactivated_at={
                **_TIME,
                "description": "when the ended flow had no work or compensation left",
            },
            compensation=_ref("Compensation"),
            labels=model_schema.LABELS,
            parent={
                **_obj(
                    ["flow_id", "step_id", "token"],
                    flow_id={"type": "string"},
                    step_id={"type": "string"},
                    token={"type": "string"},
                ),
                "description": "a child flow's parent: the flow, its sub-flow step, the item",
            },
            plan=_ref("Plan"),
            init=_OBJECT,
            attributes=_map(_attribute_value()),
            executions=_map(_ref("Execution")),
        ),
        "Operated": _obj(
            ["message", "flow_id", "status"],
            message={"type": "string"},
            flow_id={"type": "string"},
            status=status,
        ),
        "Explanation": _explanation_schema(),
        "Compensation": _obj(
            ["status", "compensated", "failed", "pending"],
            status={"enum": ["compensating", "compensated", "failed"]},
            compensated={"type": "integer"},
            failed={"type": "integer"},
            pending={"type": "integer"},
            failures=_failures_schema(),
        ),
        "Event": _obj(
            ["type", "aggregate", "seq", "timestamp", "data"],
            type={"type": "string"},
            aggregate={"type": "string", "description": '"catalog" or "flow:<id>"'},
            seq={"type": "integer", "minimum": 1},
            timestamp=_TIME,
            data=_OBJECT,
            position={
                "type": "string",
                "description": "where the event is in the feed (opaque): give it as `after`",
            },
        ),
        "EventPage": _obj(
            ["events", "count", "next_after"],
            events={"type": "array", "items": _ref("Event")},
            count={"type": "integer"},
            next_after={
                "type": "string",
                "description": "`after` for the next page (the same position when empty)",
            },
        ),
    }


def _failures_schema() -> Schema:
    """The compensations that failed for good: step, token, error."""
    failure = _obj(
        ["step_id", "token", "error"],
        step_id={"type": "string"},
        token={"type": "string"},
        error={"type": ["string", "null"]},
    )
    return {"type": "array", "items": failure}


def _attribute_value() -> Schema:
    """An attribute: its first value, its step, and every value once several steps gave one."""
    step = {"type": ["string", "null"]}
    candidate = _obj(["value", "step"], value={}, step=step)
    values = {"type": "array", "items": candidate, "description": "in completion order"}
    return _obj(["value", "step"], value={}, step=step, values=values)


def _explanation_schema() -> Schema:
    reason = {"enum": list(REASONS), "description": "why the step is where it is"}
    entry = _obj(["status", "reason", "detail"], status=enum_schema(StepStatus), reason=reason)
    entry["properties"]["detail"] = _OBJECT
    left_out = _obj(
        ["reason", "detail"],
        reason={"enum": list(LEFT_OUT_REASONS)},
        detail=_OBJECT,
    )
    return _obj(
        ["flow_id", "status", "steps", "not_in_plan"],
        flow_id={"type": "string"},
        status=enum_schema(FlowStatus),
        steps=_map(entry),
        not_in_plan=_map(left_out),
        compensation=_ref("Compensation"),
    )


PROBLEM_FIELD_SCHEMAS: dict[str, Schema] = {
    "problems": {
        "type": "array",
        "items": _obj(["field", "reason"], field={"type": "string"}, reason={"type": "string"}),
    },
    "inputs": _STRINGS,
    "goals": _STRINGS,
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
    problem = _obj(
        ["type", "title", "status", "detail"],
        type={"enum": [*sorted(BY_TYPE), UNTYPED]},
        title={"type": "string"},
        status={"type": "integer"},
        detail={"type": "string"},
        **{name: PROBLEM_FIELD_SCHEMAS[name] for name in fields},
    )
    problem["description"] = "RFC 9457 problem details"
    return problem


def _components() -> Schema:
    problem = {PROBLEM_CONTENT_TYPE: {"schema": _ref("Problem")}}
    responses = {
        f"Problem{status}": {"description": text, "content": problem}
        for status, text in {**_ERRORS, 500: "The server failed; the detail is in its log"}.items()
    }
    schemas = {
        **model_schema.definitions(_COMPONENTS),
        **_step_schemas(),
        **_flow_schemas(),
        "Problem": _problem_schema(),
        "Message": _obj(["message"], message={"type": "string"}),
    }
    bearer = {"type": "http", "scheme": "bearer", "description": "a token of the tokens file"}
    return {"schemas": schemas, "responses": responses, "securitySchemes": {"bearer": bearer}}


_METHODS = ("get", "put", "post", "delete", "patch")


def _secured(paths: Schema) -> Schema:
    """Each operation with the scope it needs (``argyll.access``) as ``x-argyll-scope``, and
    its 401 and 403. No ``security`` requirement: a server without tokens is open, and
    the document describes both."""
    for template, item in paths.items():
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            needed = scope_for(method, template)
            if needed is None:
                continue
            operation["x-argyll-scope"] = needed.value
            for status in (401, 403):
                ref = {"$ref": f"#/components/responses/Problem{status}"}
                operation["responses"].setdefault(str(status), ref)
    return paths


# -------------------------------------------------------------------- paths


def _service_paths() -> Schema:
    health = _obj(
        ["service", "version", "status", "store"],
        service={"const": "argyll"},
        version={"type": "string"},
        status={"enum": ["ok", "unhealthy"]},
        store={"type": "string", "description": "the store URL's scheme, e.g. sqlite"},
        latency_ms={"type": "number", "description": "how long the store took to answer"},
        error={"type": "string", "description": "why the store is unhealthy"},
    )
    engine = _obj(
        [
            "steps",
            "health",
            "flow_counts",
            "active_flows",
            "active_flows_next_cursor",
            "last_updated",
        ],
        steps=_map(_ref("Step")),
        health=_map(_ref("Health")),
        flow_counts={
            "type": "object",
            "properties": {status.value: {"type": "integer"} for status in FlowStatus},
            "description": "how many flows the store holds in each status",
        },
        active_flows={
            **_map(_ref("FlowSummary")),
            "description": f"the newest {DEFAULT_PAGE} active flows",
        },
        active_flows_next_cursor={
            "type": ["string", "null"],
            "description": "the cursor of the next page of active flows (POST /engine/flow/query)",
        },
        last_updated={"type": ["string", "null"], "format": "date-time"},
    )
    html = {"description": "OK", "content": {"text/html": {"schema": {"type": "string"}}}}
    metrics = {"description": "OK", "content": {"text/plain": {"schema": {"type": "string"}}}}
    return {
        "/": {"get": _op("index", "A placeholder page linking the API", {200: html})},
        wire.HEALTH_PATH: {"get": _op("serviceHealth", "Service health", {200: _json(health)})},
        wire.ENGINE_PATH: {
            "get": _op("engineState", "Steps, health and active flows", {200: _json(engine)})
        },
        wire.OPENAPI_PATH: {
            "get": _op("openapi", "This document", {200: _json(_OBJECT)}),
        },
        wire.METRICS_PATH: {
            "get": _op("metrics", "The engine's series, Prometheus text format", {200: metrics}),
        },
    }


def _step_paths() -> Schema:
    step_id = _path_param("step_id", "a step id")
    steps = _obj(
        ["steps", "count"],
        steps={"type": "array", "items": _ref("Step")},
        count={"type": "integer"},
    )
    health = _obj(["health", "count"], health=_map(_ref("Health")), count={"type": "integer"})
    message = _json(_ref("StepMessage"))
    return {
        wire.STEPS_PATH: {
            "get": _op("listSteps", "Registered steps", {200: _json(steps)}),
            "post": _op(
                "registerStep",
                "Register a step (the same definition again is a no-op: 200)",
                {201: _json(_ref("StepMessage"), "Registered"), 200: message},
                400,
                409,
                413,
                body=_body(_ref("NewStepDefinition"), "a step definition (docs/steps.md)"),
            ),
        },
        wire.STEP_PATH: {
            "parameters": [step_id],
            "get": _op("getStep", "One step", {200: _json(_ref("Step"))}, 404),
            "put": _op(
                "updateStep",
                "Replace a step's definition",
                {200: message},
                400,
                404,
                409,
                413,
                body=_body(
                    _ref("StepDefinition"), "the new definition; its id, if any, must match"
                ),
            ),
            "delete": _op(
                "unregisterStep", "Unregister a step", {200: _json(_ref("Message"))}, 404
            ),
        },
        wire.HEALTHS_PATH: {"get": _op("listHealth", "Every step's health", {200: _json(health)})},
        wire.STEP_HEALTH_PATH: {
            "parameters": [step_id],
            "get": _op("getHealth", "One step's health", {200: _json(_ref("Health"))}, 404),
        },
    }


def _flow_paths() -> Schema:
    flow_id = _path_param("flow_id", "a flow id")
    started = _obj(
        ["message", "flow_id"],
        message={"type": "string"},
        flow_id={"type": "string"},
        state={**_ref("FlowState"), "description": "with ?wait=: the state at reply time"},
    )
    wait = [_WAIT_QUERY]
    events = _obj(
        ["events", "count"],
        events={"type": "array", "items": _ref("Event")},
        count={"type": "integer"},
    )
    query = _listing_parameters()
    return {
        wire.PLAN_PATH: {
            "post": _op(
                "plan",
                "The plan a flow would run; nothing starts",
                {200: _json(_ref("Plan"))},
                400,
                413,
                body=_body(_ref("PlanRequest"), "goals and initial attributes"),
            ),
        },
        wire.FLOWS_PATH: {
            "get": _op(
                "listFlows",
                "A page of flows, newest first unless sorted otherwise",
                {200: _json(_ref("FlowPage"))},
                400,
                parameters=query,
            ),
            "post": _op(
                "startFlow",
                "Start a flow (the same request with the same id again: 200)",
                {201: _json(started, "Started"), 200: _json(started, "Already started")},
                400,
                409,
                413,
                body=_body(_ref("FlowRequest"), "goals, initial attributes and an optional id"),
                parameters=wait,
            ),
        },
        wire.FLOW_QUERY_PATH: {
            "post": _op(
                "queryFlows",
                "A page of the flows that match every filter given",
                {200: _json(_ref("FlowPage"))},
                400,
                413,
                body=_body(_ref("FlowQuery"), "filters, order, page size and cursor"),
            ),
        },
        wire.FLOW_PATH: {
            "parameters": [flow_id],
            "get": _op(
                "getFlow",
                "A flow's state (with ?wait=, once it has ended or the wait is over)",
                {200: _json(_ref("FlowState"))},
                400,
                404,
                parameters=wait,
            ),
        },
        wire.FLOW_STATUS_PATH: {
            "parameters": [flow_id],
            "get": _op(
                "getFlowStatus",
                "A flow's status (with ?wait=, once it has ended or the wait is over)",
                {
                    200: _json(
                        _obj(
                            ["id", "status"],
                            id={"type": "string"},
                            status=enum_schema(FlowStatus),
                        )
                    )
                },
                400,
                404,
                parameters=wait,
            ),
        },
        wire.FLOW_EVENTS_PATH: {
            "parameters": [flow_id],
            "get": _op("getFlowEvents", "A flow's events in seq order", {200: _json(events)}, 404),
        },
    }


def _feed_paths() -> Schema:
    page = _json(_ref("EventPage"))
    query = [
        _AFTER_QUERY,
        {
            "name": "limit",
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
        },
    ]
    return {
        wire.FEED_PATH: {
            "get": _op(
                "getFeed",
                "The global feed (every event), a page after a position",
                {200: page},
                400,
                parameters=query,
            ),
        },
        wire.CATALOG_EVENTS_PATH: {
            "get": _op(
                "getCatalogEvents",
                "The catalog's events, a page after a position",
                {200: page},
                400,
                parameters=query,
            ),
        },
    }


def _listing_parameters() -> list[Schema]:
    """``GET /engine/flow``'s query string: the fields of ``FlowQuery``, by parameter."""
    fields = model_schema.definitions()[model_schema.FLOW_QUERY]["properties"]

    def repeated(name: str, items: Schema, description: str) -> Schema:
        schema = {"type": "array", "items": items}
        return {"name": name, "in": "query", "description": description, "schema": schema}

    once = ("id_prefix", "parent", "created_after", "created_before", "sort", "limit")
    return [
        repeated(
            "status",
            enum_schema(FlowStatus),
            "flows in any of these statuses (repeat, or separate by commas)",
        ),
        repeated(
            "label",
            {"type": "string", "pattern": "^[^=]+="},
            "name=value: only flows with that label (repeat for several)",
        ),
        repeated(
            "goal",
            {"type": "string"},
            "flows whose goals include this step (repeat, or separate by commas)",
        ),
        *(
            {
                "name": name,
                "in": "query",
                "description": fields[name]["description"],
                "schema": {k: v for k, v in fields[name].items() if k != "description"},
            }
            for name in once
        ),
        {
            "name": "cursor",
            "in": "query",
            "description": "the next_cursor of the page before",
            "schema": {"type": "string"},
        },
    ]


def _operate_paths() -> Schema:
    """Operating a flow: each call appends events naming who made it and why."""
    flow_id = _path_param("flow_id", "a flow id")
    step_id = _path_param("step_id", "a step of the flow's plan")
    reason = _body(_ref("ActionRequest"), "why (recorded with the event)", required=False)
    done = {200: _json(_ref("Operated"))}

    def action(name: str, summary: str) -> Schema:
        return {
            "parameters": [flow_id],
            "post": _op(name, summary, done, 400, 404, 409, 413, body=reason),
        }

    return {
        wire.FLOW_CANCEL_PATH: action("cancelFlow", "Cancel a flow: nothing more starts"),
        wire.FLOW_PAUSE_PATH: action("pauseFlow", "Pause an active flow: nothing new starts"),
        wire.FLOW_RESUME_PATH: action("resumeFlow", "Resume a paused flow"),
        wire.FLOW_RETRY_PATH: {
            "parameters": [flow_id],
            "post": _op(
                "retryFlow",
                "Run a failed or canceled flow again; completed steps never rerun",
                done,
                400,
                404,
                409,
                413,
                body=_body(_ref("RetryRequest"), "what to run again or resolve", required=False),
            ),
        },
        wire.FLOW_EXPLAIN_PATH: {
            "parameters": [flow_id],
            "get": _op(
                "explainFlow",
                "Why each step is where it is",
                {200: _json(_ref("Explanation"))},
                404,
            ),
        },
        wire.STEP_COMPLETE_PATH: {
            "parameters": [flow_id, step_id],
            "post": _op(
                "completeStep",
                "Complete a step by hand with its outputs",
                done,
                400,
                404,
                409,
                413,
                body=_body(_ref("CompleteRequest"), "the step's outputs"),
            ),
        },
        wire.STEP_SKIP_PATH: {
            "parameters": [flow_id, step_id],
            "post": _op("skipStep", "Skip a step by hand", done, 400, 404, 409, 413, body=reason),
        },
    }


def _push_paths() -> Schema:
    problem_body = {"schema": _ref("Problem")}
    webhook_body = {
        "required": True,
        "description": "the outputs, or a problem+json body to fail the work item",
        "content": {JSON_CONTENT_TYPE: {"schema": _OBJECT}, PROBLEM_CONTENT_TYPE: problem_body},
    }
    socket = {
        "description": "Switching to WebSocket: one JSON event (see Event) per message",
    }
    return {
        wire.WEBHOOK_PATH: {
            "parameters": [
                _path_param("flow_id", "the flow"),
                _path_param("step_id", "the step"),
                _path_param("token", "the work item's receipt token", _SEGMENT),
            ],
            "post": _op(
                "completeWork",
                "Complete an async work item (repeats change nothing)",
                {200: _json(_ref("Message"))},
                400,
                404,
                413,
                body=webhook_body,
            ),
        },
        wire.EVENTS_PATH: {
            "get": _op(
                "events",
                "The event feed; with flow_id, those flows' past events then live ones",
                {101: socket},
                400,
                parameters=[
                    _listed_query(
                        "flow_id",
                        "only these flows (comma-separated or repeated)",
                        f"(?:{ID_PATTERN.pattern})",
                    ),
                    _listed_query("types", "only events of these types", _EVENT_TYPE),
                    _AFTER_QUERY,
                ],
            ),
        },
    }


def _op(
    operation_id: str,
    summary: str,
    ok: dict[int, Schema],
    *errors: int,
    body: Schema | None = None,
    parameters: list[Schema] | None = None,
) -> Schema:
    operation: Schema = {
        "operationId": operation_id,
        "summary": summary,
        "responses": _responses(ok, *errors),
    }
    if body is not None:
        operation["requestBody"] = body
    if parameters:
        operation["parameters"] = parameters
    return operation


@functools.cache
def openapi_document() -> Schema:
    """The document; built once (callers must not change it)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Argyll",
            "version": __version__,
            "description": "A goal-driven, event-sourced orchestrator. Errors are RFC 9457 "
            "problem details (application/problem+json).",
        },
        "paths": _secured(
            {
                **_service_paths(),
                **_step_paths(),
                **_flow_paths(),
                **_feed_paths(),
                **_operate_paths(),
                **_push_paths(),
            }
        ),
        "components": _components(),
    }
