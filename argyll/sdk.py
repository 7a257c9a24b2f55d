"""Write HTTP steps (docs/steps.md) as plain Python functions, serve them and register them.

```python
steps = StepServer(engine_url="http://127.0.0.1:8080")

@steps.step(outputs={"greeting": str})
def greet(name: str, punctuation: str = "!") -> dict:
    return {"greeting": f"Hello, {name}{punctuation}"}

steps.serve(port=8081)
```

The signature is the step's contract. Each parameter is an input: required
unless it has a default, which becomes the attribute's JSON ``default``; its
annotation gives the attribute type (``str`` string, ``int``/``float`` number,
``bool`` boolean, ``dict`` object, ``list`` array, anything else ``any``). A
parameter named ``ctx`` is not an input: it receives the ``StepContext`` (flow,
step, receipt token, webhook). A sync step returns its outputs as a dict; an
async step returns nothing and reports later with ``await ctx.succeed(...)`` or
``await ctx.fail(...)``. Handlers may be ``def`` (run in a thread) or ``async def``.
``StepError(status, detail)`` answers problem+json with that status (4xx fails the
work for good, 5xx asks for a retry); any other exception answers 500, so the
engine retries with the step's backoff.

A function may speak names of its own: ``rename`` gives the flow's name for a
parameter or an output (the definition maps it, docs/steps.md "Mappings"),
``consts`` fixes a parameter's value (a ``const`` input a flow's init may
override) and ``meta`` feeds a parameter a fact of the call (``{"token":
"receipt_token"}``, see "Const and meta inputs").

``StepServer.start`` serves the steps on a port of their own; ``routes(prefix)``
mounts them in a Tornado application you already serve (the demo does this).
An engine served in-process for such steps is ``argyll.server.serve_engine``.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import re
import signal
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import httpx
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application, RequestHandler

from argyll.client import AsyncClient
from argyll.client.client import DEFAULT_URL
from argyll.client.protocol import Call, post_outcome
from argyll.decide import Failed, Outcome, Succeeded
from argyll.errors import ArgyllError, ConflictError, ValidationError
from argyll.model import DEFAULT_TIMEOUT_MS, AttrType, MetaKey, Step, StepType
from argyll.problems import status_problem
from argyll.server.app import base_url
from argyll.wire import (
    FLOW_ID_HEADER,
    JSON_CONTENT_TYPE,
    PROBLEM_CONTENT_TYPE,
    RECEIPT_TOKEN_HEADER,
    STEP_ID_HEADER,
    WEBHOOK_URL_HEADER,
)

log = logging.getLogger("argyll.sdk")

F = TypeVar("F", bound=Callable[..., Any])

CTX = "ctx"
"""The parameter name that receives the ``StepContext`` instead of an input."""
WEBHOOK_ATTEMPTS = 5
WEBHOOK_BACKOFF = 0.1
"""Seconds before the first webhook retry; doubled before each next one."""
WEBHOOK_TIMEOUT = 10.0

_TYPES: dict[Any, AttrType] = {
    str: AttrType.STRING,
    int: AttrType.NUMBER,
    float: AttrType.NUMBER,
    bool: AttrType.BOOLEAN,
    dict: AttrType.OBJECT,
    Mapping: AttrType.OBJECT,
    list: AttrType.ARRAY,
    tuple: AttrType.ARRAY,
    Sequence: AttrType.ARRAY,
}
_INPUT_KINDS = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def attribute_type(annotation: Any) -> AttrType:
    """The attribute type of a Python annotation (``list[int]`` is an array)."""
    origin = typing.get_origin(annotation) or annotation
    return _TYPES.get(origin, AttrType.ANY)


def _output_type(kind: Any) -> AttrType:
    """An output's type: a Python type, or an attribute type name such as ``"number"``."""
    return AttrType(kind) if isinstance(kind, str) else attribute_type(kind)


class StepError(Exception):
    """Raise in a step to answer problem+json: 4xx fails the work item for good, 5xx retries it."""

    def __init__(self, status: int, detail: str) -> None:
        if not 400 <= status <= 599:
            raise ValueError(f"a step error is an HTTP 4xx or 5xx status, got {status}")
        super().__init__(detail)
        self.status, self.detail = status, detail


# ------------------------------------------------------------------ context


@dataclass(frozen=True, slots=True)
class StepContext:
    """The work item a call is for.

    ``token`` is the receipt token: the same on every retry of the item, so it
    is the key to make a step idempotent. ``webhook_url`` is set for async
    steps; a context rebuilt from these four fields elsewhere can report too.
    """

    flow_id: str
    step_id: str
    token: str
    webhook_url: str | None = None

    async def succeed(self, outputs: Mapping[str, Any] | None = None, /, **more: Any) -> None:
        """Report the outputs (a mapping, keywords, or both) of an async step's work item."""
        await self._report(Succeeded({**(outputs or {}), **more}))

    async def fail(self, detail: str) -> None:
        """Fail an async step's work item for good, with ``detail`` as the error."""
        await self._report(Failed(detail))

    async def _report(self, outcome: Outcome) -> None:
        if self.webhook_url is None:
            raise ArgyllError(f"step {self.step_id!r} was not called as an async step: no webhook")
        await post_with_retries(post_outcome(self.webhook_url, outcome))


async def post_with_retries(call: Call[None], attempts: int = WEBHOOK_ATTEMPTS) -> None:
    """Send ``call`` until the engine answers below 500; transport errors and 5xx are retried.

    A refusal (4xx) raises its typed error at once; the last failure is raised after
    ``attempts`` tries.
    """
    async with httpx.AsyncClient(timeout=WEBHOOK_TIMEOUT) as http:
        for attempt in range(1, attempts + 1):
            last = attempt == attempts
            try:
                response = await http.request(
                    call.method, call.path, content=call.content, headers=call.headers
                )
            except httpx.TransportError as error:
                if last:
                    raise
                log.warning("webhook %s unreachable, retrying: %s", call.path, error)
            else:
                if response.status_code < 500 or last:
                    return call.result(response.status_code, response.content)
                log.warning("webhook %s answered %d, retrying", call.path, response.status_code)
            await asyncio.sleep(WEBHOOK_BACKOFF * 2 ** (attempt - 1))


# -------------------------------------------------------------------- steps


@dataclass(frozen=True, slots=True)
class StepFunction:
    """A function served as a step, and the definition its signature gives."""

    func: Callable[..., Any]
    step_id: str
    step_type: StepType
    attributes: Mapping[str, Mapping[str, Any]]
    takes_ctx: bool
    options: Mapping[str, Any] = field(default_factory=dict)
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    renames: Mapping[str, str] = field(default_factory=dict)
    """The flow's name of a parameter or output whose own name is the function's."""

    @property
    def required(self) -> list[str]:
        return [n for n, a in self.attributes.items() if a["role"] == "required"]

    @property
    def inputs(self) -> list[str]:
        return [n for n, a in self.attributes.items() if a["role"] != "output"]

    def definition(self, url: str) -> dict[str, Any]:
        """The docs/steps.md definition of this step served under ``url``."""
        return {
            "id": self.step_id,
            "type": self.step_type.value,
            **self.options,
            "attributes": {
                self.renames.get(name, name): _mapped(spec, name, name in self.renames)
                for name, spec in self.attributes.items()
            },
            "http": {
                "endpoint": f"{url}/{self.step_id}",
                "method": "POST",
                "health_check": f"{url}/health",
                "timeout": self.timeout_ms,
            },
        }

    async def run(self, body: Mapping[str, Any], ctx: StepContext) -> dict[str, Any] | None:
        """Call the function with the inputs; the outputs of a sync step, None for an async one."""
        missing = [name for name in self.required if name not in body]
        if missing:
            raise StepError(400, "missing required inputs: " + ", ".join(missing))
        if self.step_type is StepType.ASYNC and ctx.webhook_url is None:
            raise StepError(400, f"an async step needs the {WEBHOOK_URL_HEADER} header")
        kwargs = {name: body[name] for name in self.inputs if name in body}
        if self.takes_ctx:
            kwargs[CTX] = ctx
        if inspect.iscoroutinefunction(self.func):
            result = await self.func(**kwargs)
        else:
            result = await asyncio.to_thread(self.func, **kwargs)
        if self.step_type is StepType.ASYNC:
            return None
        if result is None:
            return {}
        if not isinstance(result, Mapping):
            kind = type(result).__name__
            raise TypeError(f"step {self.step_id!r} must return a dict of outputs, got {kind}")
        return dict(result)


@dataclass(frozen=True, slots=True)
class Naming:
    """How a function's names meet the flow's: renames, fixed values, facts of the call."""

    rename: Mapping[str, str] = field(default_factory=dict)
    consts: Mapping[str, Any] = field(default_factory=dict)
    meta: Mapping[str, str] = field(default_factory=dict)


def describe(
    func: Callable[..., Any],
    step_type: StepType,
    outputs: Mapping[str, Any],
    step_id: str | None = None,
    timeout_ms: int = DEFAULT_TIMEOUT_MS,
    naming: Naming = Naming(),
    **options: Any,
) -> StepFunction:
    """The step a function's signature declares; ValidationError naming each bad parameter."""
    hints = typing.get_type_hints(func)
    parameters = inspect.signature(func).parameters
    problems: list[tuple[str, str]] = []
    attributes: dict[str, dict[str, Any]] = {}
    for param in parameters.values():
        if param.name == CTX:
            continue
        if param.kind not in _INPUT_KINDS:
            problems.append((param.name, "inputs must be named parameters (no *args, **kwargs)"))
            continue
        spec = _input_spec(param, hints.get(param.name), problems)
        attributes[param.name] = _given_spec(param.name, spec, naming, problems)
    for name, kind in outputs.items():
        if name in attributes:
            problems.append((name, "is both an input and an output"))
        attributes[name] = {"role": "output", "type": _output_type(kind).value}
    if step_type is StepType.ASYNC and CTX not in parameters:
        problems.append((CTX, "an async step reports through its `ctx` parameter: add one"))
    problems += _naming_problems(naming, attributes)
    if problems:
        raise ValidationError([(f"{func.__name__}.{where}", why) for where, why in problems])
    ident = step_id or func.__name__
    return StepFunction(
        func, ident, step_type, attributes, CTX in parameters, options, timeout_ms, naming.rename
    )


def _given_spec(
    name: str, spec: dict[str, Any], naming: Naming, problems: list[tuple[str, str]]
) -> dict[str, Any]:
    """A parameter's attribute: an input, or a const or meta one when ``naming`` says so."""
    if name in naming.meta:
        key = naming.meta[name]
        if key not in {k.value for k in MetaKey}:
            known = ", ".join(k.value for k in MetaKey)
            problems.append((name, f"meta key {key!r} is not one of {known}"))
        return {"role": "meta", "type": spec["type"], "meta": {"key": key}}
    if name in naming.consts:
        try:
            value = json.dumps(naming.consts[name])
        except (TypeError, ValueError):
            problems.append((name, f"the const {naming.consts[name]!r} is not JSON"))
            value = "null"
        return {"role": "const", "type": spec["type"], "const": {"value": value}}
    return spec


def _naming_problems(
    naming: Naming, attributes: Mapping[str, Mapping[str, Any]]
) -> list[tuple[str, str]]:
    """Names in ``rename``, ``consts`` or ``meta`` that the function does not have or cannot map."""
    problems = []
    for where, names in (
        ("rename", naming.rename),
        ("consts", naming.consts),
        ("meta", naming.meta),
    ):
        problems += [
            (f"{where}.{n}", "is not a parameter or output") for n in names if n not in attributes
        ]
    for name in naming.rename:
        if attributes.get(name, {}).get("role") in ("const", "meta"):
            problems.append((f"rename.{name}", "a const or meta input keeps its name"))
    return problems


def _mapped(spec: Mapping[str, Any], inner: str, renamed: bool) -> dict[str, Any]:
    """An attribute's definition; renamed, its role's settings say the function's name."""
    if not renamed:
        return dict(spec)
    role = spec["role"]
    settings = {"mapping": {"name": inner}}
    if "default" in spec:
        settings["default"] = spec["default"]
    return {key: value for key, value in spec.items() if key != "default"} | {role: settings}


def _input_spec(
    param: inspect.Parameter, annotation: Any, problems: list[tuple[str, str]]
) -> dict[str, Any]:
    spec: dict[str, Any] = {"role": "required", "type": attribute_type(annotation).value}
    if param.default is not inspect.Parameter.empty:
        spec["role"] = "optional"
        try:
            spec["default"] = json.dumps(param.default)
        except (TypeError, ValueError):
            problems.append((param.name, f"the default {param.default!r} is not JSON"))
    return spec


# ------------------------------------------------------------------- server


class Registrar(Protocol):
    """Where steps are registered: an in-process ``Engine`` or an ``AsyncClient``."""

    async def register_step(self, definition: Mapping[str, Any]) -> Step: ...

    async def update_step(self, step_id: str, definition: Mapping[str, Any]) -> Step: ...


class _StepHandler(RequestHandler):
    def initialize(self, step: StepFunction) -> None:
        self.step = step

    async def post(self) -> None:
        try:
            outputs = await self.step.run(self._body(), self._context())
            reply = json.dumps({"accepted": True} if outputs is None else outputs)
        except StepError as error:
            log.info("step %s answered %d: %s", self.step.step_id, error.status, error.detail)
            self._problem(error.status, error.detail)
        except Exception as error:
            log.exception("step %s failed", self.step.step_id)
            self._problem(500, f"{type(error).__name__}: {error}")
        else:
            self._answer(202 if outputs is None else 200, reply, JSON_CONTENT_TYPE)

    def _body(self) -> dict[str, Any]:
        raw = self.request.body
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError as error:
            raise StepError(400, f"the body is not JSON: {error}") from None
        if not isinstance(body, dict):
            raise StepError(400, "the body must be a JSON object of inputs")
        return body

    def _context(self) -> StepContext:
        headers = self.request.headers
        return StepContext(
            flow_id=headers.get(FLOW_ID_HEADER, ""),
            step_id=headers.get(STEP_ID_HEADER, self.step.step_id),
            token=headers.get(RECEIPT_TOKEN_HEADER, ""),
            webhook_url=headers.get(WEBHOOK_URL_HEADER),
        )

    def _problem(self, status: int, detail: str) -> None:
        self._answer(status, json.dumps(status_problem(status, detail)), PROBLEM_CONTENT_TYPE)

    def _answer(self, status: int, text: str, content_type: str) -> None:
        self.set_status(status)
        self.set_header("Content-Type", content_type)
        self.finish(text)


class _HealthHandler(RequestHandler):
    def initialize(self, steps: Sequence[str]) -> None:
        self.steps = steps

    def get(self) -> None:
        self.finish({"status": "ok", "steps": list(self.steps)})


def _log_request(handler: RequestHandler) -> None:
    """Each request at debug level: refusals and failures are logged where they happen."""
    request = handler.request
    log.debug(
        "%s %s %d %.1fms",
        request.method,
        request.path,
        handler.get_status(),
        request.request_time() * 1000,
    )


class StepServer:
    """Serve Python functions as HTTP steps and register each with an engine.

    Args:
        engine_url: the REST address of the engine (``argyll serve``) to register with.
        engine: an in-process ``Engine`` (or an ``AsyncClient``) to register with instead.
        host: the address to listen on.
        public_url: the address the engine calls, when not the bound one (proxy, container).
    """

    def __init__(
        self,
        engine_url: str | None = None,
        *,
        engine: Registrar | None = None,
        host: str = "127.0.0.1",
        public_url: str | None = None,
    ) -> None:
        if engine_url is not None and engine is not None:
            raise ValueError("give engine_url or engine, not both")
        self.engine_url = engine_url or DEFAULT_URL
        self.engine = engine
        self.host, self.public_url = host, public_url
        self.steps: dict[str, StepFunction] = {}
        self._server: HTTPServer | None = None
        self._url = ""

    def step(
        self,
        *,
        outputs: Mapping[str, Any] | None = None,
        step_id: str | None = None,
        name: str | None = None,
        timeout_ms: int = DEFAULT_TIMEOUT_MS,
        work_config: Mapping[str, Any] | None = None,
        labels: Mapping[str, str] | None = None,
        asynchronous: bool = False,
        rename: Mapping[str, str] | None = None,
        consts: Mapping[str, Any] | None = None,
        meta: Mapping[str, str] | None = None,
    ) -> Callable[[F], F]:
        """Serve the decorated function as a step; the function itself is returned unchanged.

        Args:
            outputs: output attribute names and their types (Python types or attribute type names).
            step_id: the step id (default: the function's name).
            name, work_config, labels: as in a docs/steps.md definition.
            timeout_ms: how long the engine waits for each call.
            asynchronous: the step completes later through ``ctx`` (see ``async_step``).
            rename: the flow's attribute name of a parameter or output, by the function's name.
            consts: parameters given a fixed JSON value (init may override it).
            meta: parameters given a fact of the call, by meta key (``"receipt_token"``, ...).
        """
        options = {
            key: value
            for key, value in (("name", name), ("work_config", work_config), ("labels", labels))
            if value is not None
        }
        step_type = StepType.ASYNC if asynchronous else StepType.SYNC
        naming = Naming(rename or {}, consts or {}, meta or {})

        def decorate(func: F) -> F:
            served = describe(
                func, step_type, outputs or {}, step_id, timeout_ms, naming, **options
            )
            if served.step_id in self.steps:
                raise ConflictError(f"step {served.step_id!r} is already served here")
            self.steps[served.step_id] = served
            return func

        return decorate

    def async_step(self, **options: Any) -> Callable[[F], F]:
        """Like ``step``, for a step that acknowledges at once and reports later through ``ctx``."""
        return self.step(asynchronous=True, **options)

    @property
    def url(self) -> str:
        """Where the steps are served (after ``start``)."""
        if not self._url:
            raise ArgyllError("the step server is not started")
        return self._url

    def definitions(self, url: str | None = None) -> list[dict[str, Any]]:
        """Every step's definition, served under ``url`` (default: where it is served)."""
        return [step.definition(url or self.url) for step in self.steps.values()]

    def routes(self, prefix: str = "") -> list[tuple[str, type[RequestHandler], dict[str, Any]]]:
        """Tornado rules serving the steps under ``prefix``, to mount in an application of yours.

        ``start`` serves exactly these on a port of its own; mounted elsewhere, the
        steps are described by ``definitions(app_url + prefix)``.
        """
        root = re.escape(prefix.rstrip("/"))
        rules: list[tuple[str, type[RequestHandler], dict[str, Any]]] = [
            (rf"{root}/health", _HealthHandler, {"steps": list(self.steps)})
        ]
        rules += [
            (rf"{root}/{re.escape(sid)}", _StepHandler, {"step": s})
            for sid, s in self.steps.items()
        ]
        return rules

    async def start(self, port: int = 0) -> str:
        """Serve the steps on ``port`` (0: a free one), then register or update each; the URL."""
        if self._server is not None:
            raise ArgyllError("the step server is already started")
        sockets = bind_sockets(port, self.host)
        self._server = HTTPServer(Application(self.routes(), log_function=_log_request))
        self._server.add_sockets(sockets)
        self._url = self.public_url or base_url(sockets[0])
        try:
            await self._register()
        except BaseException:
            await self.aclose()
            raise
        return self._url

    async def _register(self) -> None:
        if self.engine is not None:
            await register_all(self.engine, self.definitions())
            return
        async with AsyncClient(self.engine_url) as client:
            await register_all(client, self.definitions())

    async def aclose(self) -> None:
        """Stop serving; the steps stay registered (and turn unhealthy)."""
        if self._server is not None:
            self._server.stop()
            await self._server.close_all_connections()
            self._server = None
        self._url = ""

    def serve(self, port: int = 8081) -> None:
        """Serve until SIGINT or SIGTERM, blocking; prints one line once ready."""
        asyncio.run(self._serve_until_stopped(port))

    async def _serve_until_stopped(self, port: int) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        url = await self.start(port)
        print(f"argyll steps serving on {url}: {', '.join(self.steps)}", flush=True)
        try:
            await stop.wait()
        finally:
            await self.aclose()


async def register_all(registrar: Registrar, definitions: Sequence[Mapping[str, Any]]) -> None:
    """Register each definition; one registered before under the same id is updated."""
    for definition in definitions:
        try:
            await registrar.register_step(definition)
        except ConflictError:
            await registrar.update_step(definition["id"], definition)
