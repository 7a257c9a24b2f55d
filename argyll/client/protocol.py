"""The REST API of docs/rest.md as plain functions: build each request, parse each reply.

Every operation is a function returning a ``Call``: what to send, and how to turn
the reply into a typed value. ``Client`` and ``AsyncClient`` only send calls, so
nothing here is written twice. An error reply becomes the typed error the
in-process ``Engine`` raises for the same mistake, with the same fields and the
problem's ``detail`` as its message: ``argyll.problems`` reads the body's type
and structured fields (a reply that is not JSON is its own detail).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypedDict, TypeVar, Unpack
from urllib.parse import urlencode

from argyll import wire
from argyll.decide import Failed, Outcome, Succeeded
from argyll.errors import ArgyllError
from argyll.events import FLOW_ENDED_TYPES, Event, parse_time
from argyll.flow_query import FlowPage
from argyll.model import (
    FlowID,
    FlowStart,
    FlowState,
    FlowStatus,
    FlowSummary,
    Health,
    HealthStatus,
    Plan,
    Step,
    StepID,
    StepRegistration,
    flow_state_from_dict,
    parse_step,
    plan_from_dict,
)
from argyll.problems import error_from_problem, status_problem

T = TypeVar("T")

FLOW_ENDED = FLOW_ENDED_TYPES
"""Event types after which a flow starts nothing new."""


# ------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class ServiceHealth:
    """``GET /health``: the service, its version, and whether its store answers.

    Asked without a token of a server with tokens, only ``status`` is told (the rest empty).
    """

    service: str
    version: str
    status: str
    store: str
    latency_ms: float | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class EngineInfo:
    """``GET /engine``: the catalog, each step's health and the active flows."""

    steps: Mapping[StepID, Step]
    health: Mapping[StepID, Health]
    active_flows: Mapping[FlowID, FlowSummary]
    """The newest page of them; ``active_flows_next_cursor`` pages on (``query_flows``)."""
    last_updated: datetime | None
    flow_counts: Mapping[FlowStatus, int] = field(default_factory=dict)
    active_flows_next_cursor: str | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """A 2xx reply: its status and its JSON body (None when empty)."""

    status: int
    data: Any


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One request and the parser of its successful reply.

    ``path`` is relative to the client's base URL, or absolute (a webhook URL).
    """

    method: str
    path: str
    parse: Callable[[Reply], T]
    params: Mapping[str, str | list[str]] | None = None
    content: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    hold: float = 0.0
    """Seconds the server may hold the reply back (a long poll): added to the read timeout."""

    def result(self, status: int, body: bytes) -> T:
        """The typed value of a reply, or the typed error its problem+json stands for."""
        if status >= 400:
            raise problem_error(status, body, self.path)
        return self.parse(Reply(status, json.loads(body) if body.strip() else None))


def _json_call(
    method: str,
    path: str,
    parse: Callable[[Reply], T],
    body: Any,
    *,
    content_type: str = wire.JSON_CONTENT_TYPE,
) -> Call[T]:
    return Call(
        method,
        path,
        parse,
        content=json.dumps(body).encode(),
        headers={"Content-Type": content_type},
    )


def _nothing(_: Reply) -> None:
    return None


# -------------------------------------------------------------- operations


def health() -> Call[ServiceHealth]:
    return Call("GET", wire.HEALTH_PATH, lambda reply: parse_service_health(reply.data))


def engine_info() -> Call[EngineInfo]:
    return Call("GET", wire.ENGINE_PATH, lambda reply: parse_engine_info(reply.data))


def list_steps() -> Call[list[Step]]:
    return Call("GET", wire.STEPS_PATH, lambda reply: [parse_step(s) for s in reply.data["steps"]])


def submit_step(definition: Mapping[str, Any] | Step) -> Call[StepRegistration]:
    def parse(reply: Reply) -> StepRegistration:
        return StepRegistration(parse_step(reply.data["step"]), created=reply.status == 201)

    return _json_call("POST", wire.STEPS_PATH, parse, _step_json(definition))


def get_step(step_id: str) -> Call[Step]:
    return Call(
        "GET", wire.fill_path(wire.STEP_PATH, step_id=step_id), lambda reply: parse_step(reply.data)
    )


def update_step(step_id: str, definition: Mapping[str, Any] | Step) -> Call[Step]:
    path = wire.fill_path(wire.STEP_PATH, step_id=step_id)
    return _json_call(
        "PUT", path, lambda reply: parse_step(reply.data["step"]), _step_json(definition)
    )


def unregister_step(step_id: str) -> Call[None]:
    return Call("DELETE", wire.fill_path(wire.STEP_PATH, step_id=step_id), _nothing)


def steps_health() -> Call[dict[StepID, Health]]:
    def parse(reply: Reply) -> dict[StepID, Health]:
        return {StepID(sid): parse_health(h) for sid, h in reply.data["health"].items()}

    return Call("GET", wire.HEALTHS_PATH, parse)


def step_health(step_id: str) -> Call[Health]:
    return Call(
        "GET",
        wire.fill_path(wire.STEP_HEALTH_PATH, step_id=step_id),
        lambda r: parse_health(r.data),
    )


def plan(goals: Iterable[str] | str, init: Mapping[str, Any] | None = None) -> Call[Plan]:
    body = {"goals": _goals(goals), "init": dict(init or {})}
    return _json_call("POST", wire.PLAN_PATH, lambda reply: plan_from_dict(reply.data), body)


def submit_flow(
    goals: Iterable[str] | str,
    init: Mapping[str, Any] | None = None,
    flow_id: str | None = None,
    timeout: int | None = None,
    labels: Mapping[str, str] | None = None,
) -> Call[FlowStart]:
    body: dict[str, Any] = {"goals": _goals(goals), "init": dict(init or {})}
    if flow_id is not None:
        body["id"] = flow_id
    if timeout is not None:
        body["timeout"] = timeout
    if labels:
        body["labels"] = dict(labels)

    def parse(reply: Reply) -> FlowStart:
        return FlowStart(FlowID(reply.data["flow_id"]), created=reply.status == 201)

    return _json_call("POST", wire.FLOWS_PATH, parse, body)


def get_flow(flow_id: str, wait: float | None = None) -> Call[FlowState]:
    """The flow's state; with ``wait``, once it has ended or after ``wait`` seconds."""
    path = wire.fill_path(wire.FLOW_PATH, flow_id=flow_id)
    return _long_poll(path, wait, lambda reply: flow_state_from_dict(reply.data))


def flow_status(flow_id: str, wait: float | None = None) -> Call[FlowStatus]:
    """The flow's status; with ``wait``, once it has ended or after ``wait`` seconds."""
    path = wire.fill_path(wire.FLOW_STATUS_PATH, flow_id=flow_id)
    return _long_poll(path, wait, lambda reply: FlowStatus(reply.data["status"]))


def _long_poll(path: str, wait: float | None, parse: Callable[[Reply], T]) -> Call[T]:
    if wait is None:
        return Call("GET", path, parse)
    seconds = min(max(wait, 0.0), wire.MAX_WAIT)
    return Call("GET", path, parse, params={"wait": f"{seconds:.3f}"}, hold=seconds)


class FlowWait:
    """The rounds of waiting for a flow to end: each a read with ``?wait=`` for the time
    left (the server holds each for at most ``wire.MAX_WAIT``), so nothing polls.

    ``while (state := waiting.ended(send(waiting.call()))) is None: pass``
    """

    def __init__(
        self, flow_id: str, timeout: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.flow_id, self.timeout = flow_id, timeout
        self._clock = clock
        self._deadline = clock() + timeout

    def call(self) -> Call[FlowState]:
        return get_flow(self.flow_id, wait=max(self._deadline - self._clock(), 0.0))

    def ended(self, state: FlowState) -> FlowState | None:
        """``state`` once the flow has ended, None to ask again; TimeoutError when the time
        is up and it has not."""
        if state.status.ended:
            return state
        if self._clock() >= self._deadline:
            raise TimeoutError(f"flow {self.flow_id!r} still running after {self.timeout} s")
        return None


def list_flows(
    status: FlowStatus | str | None = None,
    limit: int | None = None,
    labels: Mapping[str, str] | None = None,
) -> Call[list[FlowSummary]]:
    params: dict[str, str | list[str]] = {"status": str(status)} if status else {}
    if limit is not None:
        params["limit"] = str(limit)
    if labels:
        params["label"] = [f"{name}={value}" for name, value in labels.items()]

    def parse(reply: Reply) -> list[FlowSummary]:
        return [parse_flow_summary(flow) for flow in reply.data["flows"]]

    return Call("GET", wire.FLOWS_PATH, parse, params=params)


class FlowFilters(TypedDict, total=False):
    """What ``query_flows`` may be given: the fields of a ``FlowQuery`` body (docs/rest.md);
    times may be datetimes or ISO-8601 text, ``cursor`` is a page's ``next_cursor``."""

    statuses: Iterable[FlowStatus | str]
    labels: Mapping[str, str]
    goals: Iterable[str]
    id_prefix: str
    parent: str
    created_after: datetime | str
    created_before: datetime | str
    sort: str
    limit: int
    cursor: str | None


def query_flows(**filters: Unpack[FlowFilters]) -> Call[FlowPage]:
    """``POST /engine/flow/query`` with the filters given (the others left out)."""
    return _json_call("POST", wire.FLOW_QUERY_PATH, parse_flow_page, _query_body(filters))


def _query_body(filters: FlowFilters) -> dict[str, Any]:
    """The JSON of the filters given: lists for the iterables, ISO-8601 for datetimes."""
    body: dict[str, Any] = {name: value for name, value in filters.items() if value is not None}
    for name in ("statuses", "goals"):
        if name in body:
            body[name] = [str(item) for item in body[name]]
    for name in ("created_after", "created_before"):
        if isinstance(body.get(name), datetime):
            body[name] = body[name].isoformat()
    return body


def list_page(**filters: Unpack[FlowFilters]) -> Call[FlowPage]:
    """``GET /engine/flow`` with the filters given, as query parameters (``status``,
    ``goal`` and ``label`` repeat)."""
    body = _query_body(filters)
    params: dict[str, str | list[str]] = {
        name: str(value) for name, value in body.items() if not isinstance(value, list | dict)
    }
    for key, name in (("statuses", "status"), ("goals", "goal")):
        if key in body:
            params[name] = body[key]
    if "labels" in body:
        params["label"] = [f"{name}={value}" for name, value in body["labels"].items()]
    return Call("GET", wire.FLOWS_PATH, parse_flow_page, params=params)


def parse_flow_page(reply: Reply) -> FlowPage:
    flows = [parse_flow_summary(flow) for flow in reply.data["flows"]]
    return FlowPage(flows, reply.data.get("next_cursor"))


def flow_events(flow_id: str) -> Call[list[dict[str, Any]]]:
    path = wire.fill_path(wire.FLOW_EVENTS_PATH, flow_id=flow_id)
    return Call("GET", path, lambda reply: list(reply.data["events"]))


def events(flow_id: str) -> Call[list[Event]]:
    path = wire.fill_path(wire.FLOW_EVENTS_PATH, flow_id=flow_id)
    return Call("GET", path, lambda reply: [Event.from_dict(e) for e in reply.data["events"]])


def _operated(reply: Reply) -> FlowStatus:
    return FlowStatus(reply.data["status"])


def _with_reason(body: dict[str, Any], reason: str | None) -> dict[str, Any]:
    return {**body, "reason": reason} if reason is not None else body


def pause_flow(flow_id: str, reason: str | None = None) -> Call[FlowStatus]:
    path = wire.fill_path(wire.FLOW_PAUSE_PATH, flow_id=flow_id)
    return _json_call("POST", path, _operated, _with_reason({}, reason))


def resume_flow(flow_id: str, reason: str | None = None) -> Call[FlowStatus]:
    path = wire.fill_path(wire.FLOW_RESUME_PATH, flow_id=flow_id)
    return _json_call("POST", path, _operated, _with_reason({}, reason))


def cancel_flow(flow_id: str, reason: str | None = None) -> Call[FlowStatus]:
    path = wire.fill_path(wire.FLOW_CANCEL_PATH, flow_id=flow_id)
    return _json_call("POST", path, _operated, _with_reason({}, reason))


def retry_flow(
    flow_id: str,
    steps: Iterable[str] = (),
    complete: Mapping[str, Mapping[str, Any]] | None = None,
    skip: Iterable[str] = (),
    reason: str | None = None,
) -> Call[FlowStatus]:
    body: dict[str, Any] = {}
    for name, value in (
        ("steps", list(steps)),
        ("complete", dict(complete or {})),
        ("skip", list(skip)),
    ):
        if value:
            body[name] = value
    path = wire.fill_path(wire.FLOW_RETRY_PATH, flow_id=flow_id)
    return _json_call("POST", path, _operated, _with_reason(body, reason))


def complete_step(
    flow_id: str, step_id: str, outputs: Mapping[str, Any], reason: str | None = None
) -> Call[FlowStatus]:
    path = wire.fill_path(wire.STEP_COMPLETE_PATH, flow_id=flow_id, step_id=step_id)
    return _json_call("POST", path, _operated, _with_reason({"outputs": dict(outputs)}, reason))


def skip_step(flow_id: str, step_id: str, reason: str | None = None) -> Call[FlowStatus]:
    path = wire.fill_path(wire.STEP_SKIP_PATH, flow_id=flow_id, step_id=step_id)
    return _json_call("POST", path, _operated, _with_reason({}, reason))


def explain_flow(flow_id: str) -> Call[dict[str, Any]]:
    path = wire.fill_path(wire.FLOW_EXPLAIN_PATH, flow_id=flow_id)
    return Call("GET", path, lambda reply: dict(reply.data))


def complete_work(flow_id: str, step_id: str, token: str, outcome: Outcome) -> Call[None]:
    """``POST /webhook/{flow}/{step}/{token}``: what an async step reports when it is done."""
    return post_outcome(
        wire.fill_path(wire.WEBHOOK_PATH, flow_id=flow_id, step_id=step_id, token=token), outcome
    )


def post_outcome(webhook_url: str, outcome: Outcome) -> Call[None]:
    """A webhook post: outputs as JSON, a failure as problem+json (its detail is the error)."""
    match outcome:
        case Succeeded(outputs=outputs):
            return _json_call("POST", webhook_url, _nothing, dict(outputs))
        case Failed(error=error):
            body = status_problem(422, error)
            return _json_call(
                "POST", webhook_url, _nothing, body, content_type=wire.PROBLEM_CONTENT_TYPE
            )
    raise TypeError(f"a webhook reports Succeeded or Failed, not {outcome!r}")


def stream_url(
    base_url: str,
    flow_id: str | Iterable[str] | None = None,
    types: Iterable[str] = (),
    after: str | None = None,
) -> str:
    """The ``ws://`` (or ``wss://``) address of the event feed: for some flows or for all,
    of some types or all, after a position or from now (or a flow's start)."""
    scheme, rest = base_url.rstrip("/").split("://", 1)
    ws_scheme = "wss" if scheme == "https" else "ws"
    params = {"flow_id": ",".join(flow_ids(flow_id)), "types": ",".join(types)}
    if after is not None:
        params["after"] = after
    given = {name: value for name, value in params.items() if value or name == "after"}
    query = "?" + urlencode(given) if given else ""
    return f"{ws_scheme}://{rest}{wire.EVENTS_PATH}{query}"


def flow_ids(flow_id: str | Iterable[str] | None) -> list[str]:
    """One flow id, several, or none, as a list."""
    if flow_id is None:
        return []
    return [flow_id] if isinstance(flow_id, str) else list(flow_id)


def _step_json(definition: Mapping[str, Any] | Step) -> dict[str, Any]:
    return definition.to_dict() if isinstance(definition, Step) else dict(definition)


def _goals(goals: Iterable[str] | str) -> list[str]:
    return [goals] if isinstance(goals, str) else list(goals)


# -------------------------------------------------------------------- errors


def problem_error(status: int, body: bytes, where: str) -> ArgyllError:
    """The typed error an error reply stands for; its message is the problem's ``detail``."""
    return error_from_problem(status, _problem(body), where)


def _problem(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict):
        return data
    return {"detail": body.decode(errors="replace").strip()}


# ------------------------------------------------------------------- parsers


def _time(text: str | None) -> datetime | None:
    return parse_time(text) if text else None


def parse_service_health(data: Mapping[str, Any]) -> ServiceHealth:
    return ServiceHealth(
        service=data.get("service", ""),
        version=data.get("version", ""),
        status=data["status"],
        store=data.get("store", ""),
        latency_ms=data.get("latency_ms"),
        error=data.get("error"),
    )


def parse_health(data: Mapping[str, Any]) -> Health:
    return Health(HealthStatus(data["status"]), data.get("error"))


def parse_flow_summary(data: Mapping[str, Any]) -> FlowSummary:
    return FlowSummary(
        id=FlowID(data["id"]),
        status=FlowStatus(data["status"]),
        created_at=parse_time(data["created_at"]),
        completed_at=_time(data.get("completed_at")),
        error=data.get("error"),
        labels=dict(data.get("labels", {})),
        parent=FlowID(data["parent"]) if data.get("parent") else None,
        goals=tuple(data.get("goals", ())),
    )


def parse_engine_info(data: Mapping[str, Any]) -> EngineInfo:
    return EngineInfo(
        steps={StepID(sid): parse_step(step) for sid, step in data["steps"].items()},
        health={StepID(sid): parse_health(h) for sid, h in data["health"].items()},
        active_flows={
            FlowID(fid): parse_flow_summary(flow) for fid, flow in data["active_flows"].items()
        },
        last_updated=_time(data.get("last_updated")),
        flow_counts={FlowStatus(s): n for s, n in data.get("flow_counts", {}).items()},
        active_flows_next_cursor=data.get("active_flows_next_cursor"),
    )
