"""The OpenAPI 3.1 document of the HTTP API (served at ``/engine/openapi.json``): its paths,
the scope each operation needs, and the document that joins them to the components.

Built in Python rather than kept as a JSON file so that the shared pieces (ids,
problem responses, paging parameters) are written once: the vocabulary is
``openapi_shapes``, paging and filtering ``openapi_paging``, the reply and problem
shapes ``openapi_schemas``; every enum comes from the model's enums. Tests run
schemathesis against it, so it must say exactly what the handlers do.
"""

from __future__ import annotations

import functools

from argyll import __version__, wire
from argyll.access import scope_for
from argyll.model import DEFAULT_PAGE, FlowStatus
from argyll.model.schema import enum_schema
from argyll.server.openapi_paging import (
    WAIT_QUERY,
    feed_parameters,
    listing_parameters,
    stream_parameters,
)
from argyll.server.openapi_schemas import components
from argyll.server.openapi_shapes import (
    OBJECT,
    SEGMENT,
    Schema,
    json_reply,
    map_of,
    obj,
    op,
    path_param,
    ref,
    request_body,
)
from argyll.wire import JSON_CONTENT_TYPE, PROBLEM_CONTENT_TYPE

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
                problem = {"$ref": f"#/components/responses/Problem{status}"}
                operation["responses"].setdefault(str(status), problem)
    return paths


# -------------------------------------------------------------------- paths


def _service_paths() -> Schema:
    health = obj(
        ["service", "version", "status", "store"],
        service={"const": "argyll"},
        version={"type": "string"},
        status={"enum": ["ok", "unhealthy"]},
        store={"type": "string", "description": "the store URL's scheme, e.g. sqlite"},
        latency_ms={"type": "number", "description": "how long the store took to answer"},
        error={"type": "string", "description": "why the store is unhealthy"},
    )
    engine = obj(
        [
            "steps",
            "health",
            "flow_counts",
            "active_flows",
            "active_flows_next_cursor",
            "last_updated",
        ],
        steps=map_of(ref("Step")),
        health=map_of(ref("Health")),
        flow_counts={
            "type": "object",
            "properties": {status.value: {"type": "integer"} for status in FlowStatus},
            "description": "how many flows the store holds in each status",
        },
        active_flows={
            **map_of(ref("FlowSummary")),
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
        "/": {"get": op("index", "A placeholder page linking the API", {200: html})},
        wire.HEALTH_PATH: {"get": op("serviceHealth", "Service health", {200: json_reply(health)})},
        wire.ENGINE_PATH: {
            "get": op("engineState", "Steps, health and active flows", {200: json_reply(engine)})
        },
        wire.OPENAPI_PATH: {
            "get": op("openapi", "This document", {200: json_reply(OBJECT)}),
        },
        wire.METRICS_PATH: {
            "get": op("metrics", "The engine's series, Prometheus text format", {200: metrics}),
        },
    }


def _step_paths() -> Schema:
    step_id = path_param("step_id", "a step id")
    steps = obj(
        ["steps", "count"],
        steps={"type": "array", "items": ref("Step")},
        count={"type": "integer"},
    )
    health = obj(["health", "count"], health=map_of(ref("Health")), count={"type": "integer"})
    message = json_reply(ref("StepMessage"))
    return {
        wire.STEPS_PATH: {
            "get": op("listSteps", "Registered steps", {200: json_reply(steps)}),
            "post": op(
                "registerStep",
                "Register a step (the same definition again is a no-op: 200)",
                {201: json_reply(ref("StepMessage"), "Registered"), 200: message},
                400,
                409,
                413,
                body=request_body(ref("NewStepDefinition"), "a step definition (docs/steps.md)"),
            ),
        },
        wire.STEP_PATH: {
            "parameters": [step_id],
            "get": op("getStep", "One step", {200: json_reply(ref("Step"))}, 404),
            "put": op(
                "updateStep",
                "Replace a step's definition",
                {200: message},
                400,
                404,
                409,
                413,
                body=request_body(
                    ref("StepDefinition"), "the new definition; its id, if any, must match"
                ),
            ),
            "delete": op(
                "unregisterStep", "Unregister a step", {200: json_reply(ref("Message"))}, 404
            ),
        },
        wire.HEALTHS_PATH: {
            "get": op("listHealth", "Every step's health", {200: json_reply(health)})
        },
        wire.STEP_HEALTH_PATH: {
            "parameters": [step_id],
            "get": op("getHealth", "One step's health", {200: json_reply(ref("Health"))}, 404),
        },
    }


def _flow_paths() -> Schema:
    flow_id = path_param("flow_id", "a flow id")
    started = obj(
        ["message", "flow_id"],
        message={"type": "string"},
        flow_id={"type": "string"},
        state={**ref("FlowState"), "description": "with ?wait=: the state at reply time"},
    )
    wait = [WAIT_QUERY]
    events = obj(
        ["events", "count"],
        events={"type": "array", "items": ref("Event")},
        count={"type": "integer"},
    )
    query = listing_parameters()
    return {
        wire.PLAN_PATH: {
            "post": op(
                "plan",
                "The plan a flow would run; nothing starts",
                {200: json_reply(ref("Plan"))},
                400,
                413,
                body=request_body(ref("PlanRequest"), "goals and initial attributes"),
            ),
        },
        wire.FLOWS_PATH: {
            "get": op(
                "listFlows",
                "A page of flows, newest first unless sorted otherwise",
                {200: json_reply(ref("FlowPage"))},
                400,
                parameters=query,
            ),
            "post": op(
                "startFlow",
                "Start a flow (the same request with the same id again: 200)",
                {201: json_reply(started, "Started"), 200: json_reply(started, "Already started")},
                400,
                409,
                413,
                body=request_body(
                    ref("FlowRequest"), "goals, initial attributes and an optional id"
                ),
                parameters=wait,
            ),
        },
        wire.FLOW_QUERY_PATH: {
            "post": op(
                "queryFlows",
                "A page of the flows that match every filter given",
                {200: json_reply(ref("FlowPage"))},
                400,
                413,
                body=request_body(ref("FlowQuery"), "filters, order, page size and cursor"),
            ),
        },
        wire.FLOW_PATH: {
            "parameters": [flow_id],
            "get": op(
                "getFlow",
                "A flow's state (with ?wait=, once it has ended or the wait is over)",
                {200: json_reply(ref("FlowState"))},
                400,
                404,
                parameters=wait,
            ),
        },
        wire.FLOW_STATUS_PATH: {
            "parameters": [flow_id],
            "get": op(
                "getFlowStatus",
                "A flow's status (with ?wait=, once it has ended or the wait is over)",
                {
                    200: json_reply(
                        obj(
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
            "get": op(
                "getFlowEvents", "A flow's events in seq order", {200: json_reply(events)}, 404
            ),
        },
    }


def _feed_paths() -> Schema:
    page = json_reply(ref("EventPage"))
    query = feed_parameters()
    return {
        wire.FEED_PATH: {
            "get": op(
                "getFeed",
                "The global feed (every event), a page after a position",
                {200: page},
                400,
                parameters=query,
            ),
        },
        wire.CATALOG_EVENTS_PATH: {
            "get": op(
                "getCatalogEvents",
                "The catalog's events, a page after a position",
                {200: page},
                400,
                parameters=query,
            ),
        },
    }


def _operate_paths() -> Schema:
    """Operating a flow: each call appends events naming who made it and why."""
    flow_id = path_param("flow_id", "a flow id")
    step_id = path_param("step_id", "a step of the flow's plan")
    reason = request_body(ref("ActionRequest"), "why (recorded with the event)", required=False)
    done = {200: json_reply(ref("Operated"))}

    def action(name: str, summary: str) -> Schema:
        return {
            "parameters": [flow_id],
            "post": op(name, summary, done, 400, 404, 409, 413, body=reason),
        }

    return {
        wire.FLOW_CANCEL_PATH: action("cancelFlow", "Cancel a flow: nothing more starts"),
        wire.FLOW_PAUSE_PATH: action("pauseFlow", "Pause an active flow: nothing new starts"),
        wire.FLOW_RESUME_PATH: action("resumeFlow", "Resume a paused flow"),
        wire.FLOW_RETRY_PATH: {
            "parameters": [flow_id],
            "post": op(
                "retryFlow",
                "Run a failed or canceled flow again; completed steps never rerun",
                done,
                400,
                404,
                409,
                413,
                body=request_body(
                    ref("RetryRequest"), "what to run again or resolve", required=False
                ),
            ),
        },
        wire.FLOW_EXPLAIN_PATH: {
            "parameters": [flow_id],
            "get": op(
                "explainFlow",
                "Why each step is where it is",
                {200: json_reply(ref("Explanation"))},
                404,
            ),
        },
        wire.STEP_COMPLETE_PATH: {
            "parameters": [flow_id, step_id],
            "post": op(
                "completeStep",
                "Complete a step by hand with its outputs",
                done,
                400,
                404,
                409,
                413,
                body=request_body(ref("CompleteRequest"), "the step's outputs"),
            ),
        },
        wire.STEP_SKIP_PATH: {
            "parameters": [flow_id, step_id],
            "post": op("skipStep", "Skip a step by hand", done, 400, 404, 409, 413, body=reason),
        },
    }


def _push_paths() -> Schema:
    problem_body = {"schema": ref("Problem")}
    webhook_body = {
        "required": True,
        "description": "the outputs, or a problem+json body to fail the work item",
        "content": {JSON_CONTENT_TYPE: {"schema": OBJECT}, PROBLEM_CONTENT_TYPE: problem_body},
    }
    socket = {
        "description": "Switching to WebSocket: one JSON event (see Event) per message",
    }
    return {
        wire.WEBHOOK_PATH: {
            "parameters": [
                path_param("flow_id", "the flow"),
                path_param("step_id", "the step"),
                path_param("token", "the work item's receipt token", SEGMENT),
            ],
            "post": op(
                "completeWork",
                "Complete an async work item (repeats change nothing)",
                {200: json_reply(ref("Message"))},
                400,
                404,
                413,
                body=webhook_body,
            ),
        },
        wire.EVENTS_PATH: {
            "get": op(
                "events",
                "The event feed; with flow_id, those flows' past events then live ones",
                {101: socket},
                400,
                parameters=stream_parameters(),
            ),
        },
    }


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
        "components": components(),
    }
