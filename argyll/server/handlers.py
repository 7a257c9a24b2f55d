"""Thin Tornado handlers for the REST API (docs/rest.md) and the webhooks (docs/steps.md).

Each handler parses its request, makes one call on the ``Engine`` and writes the
result as JSON ending in a newline (so a shell prompt after ``curl`` starts on
its own line); errors are raised, never written, so ``problem.py`` answers them
all. Request bodies go through ``ApiHandler.json_object`` and nowhere else, and
are checked against the model's shapes (``argyll.model.schema``), never retyped
here. Bodies are streamed so the size limit is checked from ``Content-Length``
*before* the body is read, and an oversized request gets a problem+json 413.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from tornado.web import HTTPError, RequestHandler, stream_request_body

from argyll import __version__
from argyll.access import Token, authorize, bearer, scope_for
from argyll.decide import Failed, Outcome, Succeeded
from argyll.errors import BodyTooLargeError, StartingError, ValidationError
from argyll.events import ANONYMOUS
from argyll.flow_query import FlowQuery, parse_flow_query
from argyll.json_encoding import to_json_bytes
from argyll.model import (
    ACTION_REQUEST,
    COMPLETE_REQUEST,
    FLOW_REQUEST,
    PLAN_REQUEST,
    RETRY_REQUEST,
    FlowState,
    FlowStatus,
    Health,
    Shape,
    iso,
    json_text,
)
from argyll.problems import problem_text
from argyll.runtime.engine import Engine
from argyll.runtime.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from argyll.runtime.waiters import Hold, state_after, status_after
from argyll.server.problem import write_problem
from argyll.wire import JSON_CONTENT_TYPE, PROBLEM_CONTENT_TYPE

DEFAULT_MAX_BODY_SIZE = 10 * 1024 * 1024
_PARAMETER_OF = {"statuses": "status", "goals": "goal", "labels": "label"}
"""The query parameter of each body field whose name differs."""
_GIVEN_ONCE = ("id_prefix", "parent", "created_after", "created_before", "sort", "cursor", "limit")
"""The query parameters named as their body fields, given once (the last one counts)."""

STARTING_RETRY_AFTER = 1
"""Seconds a caller is told to wait before asking an engine that is still starting again."""
_DIGITS = re.compile(r"[0-9]+")
_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_FLOW_STATUSES = tuple(status.value for status in FlowStatus)

ACTIVE_PAGE = FlowQuery(statuses=frozenset({FlowStatus.ACTIVE}))
"""The active flows ``GET /engine`` shows: the newest page of them."""


@stream_request_body
class ApiHandler(RequestHandler):
    """Base of every JSON endpoint: body limit, body parsing, replies and problem+json errors."""

    def initialize(self, engine: Engine, max_body_size: int = DEFAULT_MAX_BODY_SIZE) -> None:
        self.engine = engine
        self.max_body_size = max_body_size
        self._chunks: list[bytes] = []
        self.caller: Token | None = None
        self.admitted = False
        """``prepare`` let the call through, so its body is read before any reply."""

    def prepare(self) -> None:
        self.caller = caller_of(self, bearer(self.request.headers.get("Authorization")))
        check_started(self.engine)
        length = self.request.headers.get("Content-Length", "")
        if _DIGITS.fullmatch(length) and int(length) > self.max_body_size:
            raise BodyTooLargeError(int(length), self.max_body_size)
        self.admitted = True

    def data_received(self, chunk: bytes) -> None:
        self._chunks.append(chunk)

    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object; anything else is a 400."""
        return parse_json_object(b"".join(self._chunks))

    def request_of(self, shape: Shape) -> dict[str, Any]:
        """A body that may be left out (``{}``), checked against ``shape``."""
        raw = b"".join(self._chunks)
        body = parse_json_object(raw) if raw.strip() else {}
        shape.check(body)
        return body

    @property
    def actor(self) -> str:
        """Who makes this call, as its events record it: its token's name."""
        return self.caller.name if self.caller is not None else ANONYMOUS

    def reply(self, data: Mapping[str, Any], status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", JSON_CONTENT_TYPE)
        self.finish(to_json_bytes(data) + b"\n")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        if not self.admitted:
            # Refused before its body was read (503 starting, 401, 403, 413): Tornado closes
            # the connection after this reply, and a keep-alive client must be told so.
            self.set_header("Connection", "close")
        write_problem(self, status_code, kwargs.get("exc_info"))

    def log_exception(self, *exc_info: Any) -> None:
        """Silent: expected errors are answered, unexpected ones are logged by ``problem_for``."""


def check_started(engine: Engine) -> None:
    """Refuse a call (503, ``Retry-After``) while the engine is still starting: the port
    is served at once, before a restart has read its running flows back."""
    if not engine.started:
        raise StartingError(STARTING_RETRY_AFTER)


class NoRouteHandler(RequestHandler):
    """Every path no route matches: a problem+json 404 instead of Tornado's HTML page.

    It needs no engine, so the dashboard's server (which routes ``/`` itself) uses it too.
    """

    def prepare(self) -> None:
        raise HTTPError(404, "no resource at %s", self.request.path, reason="Not Found")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        write_problem(self, status_code, kwargs.get("exc_info"))

    def log_exception(self, *exc_info: Any) -> None:
        """Silent: a 404 is an answer, not a fault."""


def caller_of(handler: RequestHandler, secret: str | None) -> Token | None:
    """Who calls ``handler``'s route with ``secret``, checked against its scope before
    anything is looked up (``argyll.access.authorize``: raises 401 or 403)."""
    settings = handler.settings
    source = settings.get("argyll_tokens")
    template = settings["argyll_routes"].get(type(handler))
    needed = scope_for(handler.request.method or "", template)
    return authorize(None if source is None else source.current(), secret, needed)


# ------------------------------------------------------------------ parsing


def parse_json_object(body: bytes) -> dict[str, Any]:
    if not body.strip():
        raise ValidationError([("body", "a JSON object is required")])
    try:
        data = json.loads(body, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise ValidationError([("body", f"not valid JSON: {exc}")]) from None
    if not isinstance(data, dict):
        raise ValidationError([("body", f"must be a JSON object, got {json_text(data)}")])
    return data


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_goals_and_init(
    body: Mapping[str, Any], request: Shape = FLOW_REQUEST
) -> tuple[list[str], dict[str, Any]]:
    """``goals`` (one id becomes a list) and ``init`` of a flow (or plan) request body.

    The whole body is checked against the model's shape first, ``id`` and unknown fields
    included, so a request is judged at once.
    """
    request.check(body)
    goals = body["goals"]
    return ([goals] if isinstance(goals, str) else goals), body.get("init", {})


def flow_query_body(arguments: Callable[[str], list[str]]) -> dict[str, Any]:
    """``GET /engine/flow``'s query string as a ``FlowQuery`` body: ``?status=`` and
    ``?goal=`` repeat or list comma-separated values, ``?label=name=value`` repeats, the
    others are given once, ``?limit=`` as digits."""
    body: dict[str, Any] = {}
    for name, field in (("status", "statuses"), ("goal", "goals")):
        values = [part for value in arguments(name) for part in value.split(",")]
        if values:
            body[field] = values
    labels = parse_labels(arguments("label"))
    if labels:
        body["labels"] = labels
    for name in _GIVEN_ONCE:
        given = arguments(name)
        if given:
            body[name] = given[-1]
    limit = body.get("limit")
    if limit is not None and _DIGITS.fullmatch(limit):
        body["limit"] = int(limit)
    return body


def parse_listing(arguments: Callable[[str], list[str]]) -> FlowQuery:
    """The flow query of ``GET /engine/flow``; a problem names the query parameter."""
    try:
        return parse_flow_query(flow_query_body(arguments))
    except ValidationError as error:
        problems = [
            (_PARAMETER_OF.get(field.split(".")[0], field), reason)
            for field, reason in error.problems
        ]
        raise ValidationError(problems) from error


def parse_wait(value: str | None) -> float | None:
    """``?wait=`` seconds, a plain decimal (``Hold`` cuts it to ``MAX_WAIT``), or None."""
    if value is None:
        return None
    if not _SECONDS.fullmatch(value):
        raise ValidationError(
            [("wait", f"must be a number of seconds >= 0, got {json_text(value)}")]
        )
    return float(value)


def parse_labels(queries: list[str]) -> dict[str, str]:
    """``?label=name=value``, repeated: every label a listed flow must carry."""
    labels, problems = {}, []
    for query in queries:
        name, equals, value = query.partition("=")
        if not name or not equals:
            problems.append(("label", f"must be name=value, got {json_text(query)}"))
        else:
            labels[name] = value
    if problems:
        raise ValidationError(problems)
    return labels


def webhook_outcome(content_type: str, body: Mapping[str, Any]) -> Outcome:
    """A problem+json body is a failure (its detail, else its title); any other object, outputs."""
    if content_type.split(";")[0].strip().lower() != PROBLEM_CONTENT_TYPE:
        return Succeeded(body)
    text = problem_text(body)
    return Failed(text or "the step reported a failure (problem+json with no detail or title)")


# ------------------------------------------------------------------ service


class ServiceHealthHandler(ApiHandler):
    """Anyone may ask; a caller without a token (when tokens are configured) learns only
    the ``status``."""

    async def get(self) -> None:
        health = await self.engine.store_health()
        if self.caller is None:
            self.reply({"status": health["status"]})
            return
        self.reply({"service": "argyll", "version": __version__, **health})


class EngineHandler(ApiHandler):
    """The catalog, its health, how many flows are in each status, and the newest page of
    active flows (the rest are paged by ``POST /engine/flow/query``)."""

    async def get(self) -> None:
        catalog = self.engine.catalog
        active = await self.engine.query_flows(ACTIVE_PAGE)
        counts = await self.engine.flow_counts()
        self.reply(
            {
                "steps": {sid: step.to_dict() for sid, step in catalog.steps.items()},
                "health": health_map(self.engine),
                "flow_counts": {status.value: count for status, count in counts.items()},
                "active_flows": {flow.id: flow.to_dict() for flow in active.flows},
                "active_flows_next_cursor": active.next_cursor,
                "last_updated": iso(catalog.last_updated),
            }
        )


class OpenApiHandler(ApiHandler):
    async def get(self) -> None:
        self.reply(self.settings["argyll_openapi"])


class MetricsHandler(ApiHandler):
    """The engine's series in Prometheus text format (not JSON: scrapers read this)."""

    async def get(self) -> None:
        self.set_header("Content-Type", METRICS_CONTENT_TYPE)
        self.finish(await self.engine.metrics_text())


# -------------------------------------------------------------------- steps


class StepsHandler(ApiHandler):
    async def get(self) -> None:
        steps = [step.to_dict() for step in self.engine.catalog.steps.values()]
        self.reply({"steps": steps, "count": len(steps)})

    async def post(self) -> None:
        registration = await self.engine.submit_step(self.json_object(), actor=self.actor)
        step = registration.step
        if not registration.created:
            self.reply(
                {"message": f"step {step.id!r} is already registered", "step": step.to_dict()}
            )
        else:
            self.reply({"message": f"step {step.id!r} registered", "step": step.to_dict()}, 201)


class StepHandler(ApiHandler):
    async def get(self, step_id: str) -> None:
        self.reply(self.engine.get_step(step_id).to_dict())

    async def put(self, step_id: str) -> None:
        step = await self.engine.update_step(step_id, self.json_object(), actor=self.actor)
        self.reply({"message": f"step {step.id!r} updated", "step": step.to_dict()})

    async def delete(self, step_id: str) -> None:
        await self.engine.unregister_step(step_id, actor=self.actor)
        self.reply({"message": f"step {step_id!r} unregistered"})


def health_map(engine: Engine) -> dict[str, dict[str, Any]]:
    """Every registered step's health; a step with no record yet is ``unknown``."""
    catalog = engine.catalog
    return {sid: catalog.health.get(sid, Health()).to_dict() for sid in catalog.steps}


class HealthListHandler(ApiHandler):
    async def get(self) -> None:
        health = health_map(self.engine)
        self.reply({"health": health, "count": len(health)})


class StepHealthHandler(ApiHandler):
    async def get(self, step_id: str) -> None:
        step = self.engine.get_step(step_id)
        self.reply(self.engine.catalog.health.get(step.id, Health()).to_dict())


# -------------------------------------------------------------------- flows


class PlanHandler(ApiHandler):
    async def post(self) -> None:
        goals, init = parse_goals_and_init(self.json_object(), PLAN_REQUEST)
        self.reply(self.engine.plan(goals, init).to_dict())


class LongPollHandler(ApiHandler):
    """A handler whose reply may wait for a flow to end (``?wait=``), and stops waiting
    when its client goes away."""

    def initialize(self, engine: Engine, max_body_size: int = DEFAULT_MAX_BODY_SIZE) -> None:
        super().initialize(engine, max_body_size)
        self._hold = Hold(0.0)

    def hold(self, wait: float | None) -> Hold:
        self._hold = Hold(wait or 0.0)
        return self._hold

    def on_connection_close(self) -> None:
        self._hold.release()
        super().on_connection_close()


class FlowsHandler(LongPollHandler):
    async def get(self) -> None:
        query = parse_listing(self.get_query_arguments)
        self.reply((await self.engine.query_flows(query)).to_dict())

    async def post(self) -> None:
        """Start a flow; with ``?wait=``, answer once it has ended (or the wait is over),
        with its state as it stands then."""
        wait = parse_wait(self.get_query_argument("wait", None))
        body = self.json_object()
        goals, init = parse_goals_and_init(body)
        start = await self.engine.submit_flow(
            goals,
            init,
            body.get("id"),
            timeout=body.get("timeout"),
            labels=body.get("labels"),
            actor=self.actor,
        )
        if start.created:
            reply = {"message": f"flow {start.flow_id!r} started", "flow_id": start.flow_id}
        else:
            message = f"flow {start.flow_id!r} was already started with this request"
            reply = {"message": message, "flow_id": start.flow_id}
        if wait is not None:
            state = await state_after(self.engine, start.flow_id, self.hold(wait))
            reply["state"] = state.to_dict()
        self.reply(reply, 201 if start.created else 200)


class FlowHandler(LongPollHandler):
    async def get(self, flow_id: str) -> None:
        hold = self.hold(parse_wait(self.get_query_argument("wait", None)))
        self.reply((await state_after(self.engine, flow_id, hold)).to_dict())


class FlowQueryHandler(FlowHandler):
    """``POST`` queries the flow index; ``GET`` is still the flow whose id is "query"."""

    async def get(self) -> None:  # type: ignore[override]
        await super().get("query")

    async def post(self) -> None:
        query = parse_flow_query(self.json_object())
        self.reply((await self.engine.query_flows(query)).to_dict())


class FlowStatusHandler(LongPollHandler):
    async def get(self, flow_id: str) -> None:
        hold = self.hold(parse_wait(self.get_query_argument("wait", None)))
        summary = await status_after(self.engine, flow_id, hold)
        self.reply({"id": summary.id, "status": summary.status.value})


class FlowEventsHandler(ApiHandler):
    async def get(self, flow_id: str) -> None:
        events = await self.engine.flow_events(flow_id)
        self.reply({"events": events, "count": len(events)})


# ------------------------------------------------------- operating a flow


def operated(state: FlowState, done: str) -> dict[str, Any]:
    """The reply to an operator's call: what happened, and the flow's status after it."""
    return {
        "message": f"flow {json_text(state.id)} {done}",
        "flow_id": state.id,
        "status": state.status.value,
    }


class ReasonOnlyHandler(ApiHandler):
    """A call on a flow that takes only an optional ``{reason}``: pause, resume, cancel."""

    method_name: ClassVar[str]
    done: ClassVar[str]

    async def post(self, flow_id: str) -> None:
        reason = self.request_of(ACTION_REQUEST).get("reason")
        call = getattr(self.engine, self.method_name)
        self.reply(operated(await call(flow_id, reason, actor=self.actor), self.done))


class PauseHandler(ReasonOnlyHandler):
    method_name, done = "pause_flow", "paused"


class ResumeHandler(ReasonOnlyHandler):
    method_name, done = "resume_flow", "resumed"


class CancelHandler(ReasonOnlyHandler):
    method_name, done = "cancel_flow", "canceled"


class RetryHandler(ApiHandler):
    async def post(self, flow_id: str) -> None:
        body = self.request_of(RETRY_REQUEST)
        state = await self.engine.retry_flow(
            flow_id,
            body.get("steps", ()),
            complete=body.get("complete"),
            skip=body.get("skip", ()),
            reason=body.get("reason"),
            actor=self.actor,
        )
        self.reply(operated(state, "retried"))


class CompleteStepHandler(ApiHandler):
    async def post(self, flow_id: str, step_id: str) -> None:
        body = self.request_of(COMPLETE_REQUEST)
        state = await self.engine.complete_step(
            flow_id, step_id, body["outputs"], body.get("reason"), actor=self.actor
        )
        self.reply(operated(state, f"step {json_text(step_id)} completed by hand"))


class SkipStepHandler(ApiHandler):
    async def post(self, flow_id: str, step_id: str) -> None:
        reason = self.request_of(ACTION_REQUEST).get("reason")
        state = await self.engine.skip_step(flow_id, step_id, reason, actor=self.actor)
        self.reply(operated(state, f"step {json_text(step_id)} skipped by hand"))


class ExplainHandler(ApiHandler):
    async def get(self, flow_id: str) -> None:
        self.reply(await self.engine.explain_flow(flow_id))


class WebhookHandler(ApiHandler):
    async def post(self, flow_id: str, step_id: str, token: str) -> None:
        content_type = self.request.headers.get("Content-Type", "")
        outcome = webhook_outcome(content_type, self.json_object())
        await self.engine.complete_work(flow_id, step_id, token, outcome)
        self.reply({"message": f"result for work item {token!r} of step {step_id!r} recorded"})


# ---------------------------------------------------------------------- page

INDEX_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Argyll</title></head>
<body>
<h1>Argyll</h1>
<p>The engine is running. This server answers its REST API, its event WebSocket at
<code>/engine/ws</code> and step webhooks, and serves no dashboard (<code>argyll serve</code>
without <code>--no-dashboard</code> serves one here). Start with:</p>
<ul>
<li><a href="/engine">/engine</a>: steps, health and active flows</li>
<li><a href="/health">/health</a>: service health</li>
<li><a href="/engine/openapi.json">/engine/openapi.json</a>: the OpenAPI document</li>
</ul>
</body>
</html>
"""


class IndexHandler(ApiHandler):
    async def get(self) -> None:
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.finish(INDEX_PAGE)
