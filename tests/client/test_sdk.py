"""The step SDK driven by a real engine served on loopback: sync and async steps, errors,
retries, optional inputs, types from annotations, and steps written to the upstream contract.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import threading
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application, RequestHandler

from argyll.client import AsyncClient
from argyll.errors import ArgyllError, ConflictError, NotFoundError, ValidationError
from argyll.model import FlowStatus, HealthStatus, StepStatus
from argyll.sdk import StepContext, StepError, StepServer
from argyll.server import LocalEngine, serve_engine
from argyll.testing import StepService
from argyll.wire import PROBLEM_CONTENT_TYPE

ROOT = Path(__file__).parents[2]
FAST_RETRY = {"max_retries": 3, "init_backoff": 10, "backoff_type": "fixed"}


@pytest.fixture
async def local() -> AsyncIterator[LocalEngine]:
    async with await serve_engine() as served:
        yield served


@pytest.fixture
async def steps(local: LocalEngine) -> AsyncIterator[StepServer]:
    server = StepServer(engine=local.engine)
    yield server
    await server.aclose()


async def run(local: LocalEngine, goals: Sequence[str], init: Mapping[str, Any]) -> Any:
    flow_id = await local.engine.start_flow(goals, init)
    return await local.engine.wait_flow(flow_id, timeout=10)


async def event_types(local: LocalEngine, flow_id: str) -> list[str]:
    return [event["type"] for event in await local.engine.flow_events(flow_id)]


async def until(condition: asyncio.Event) -> None:
    async with asyncio.timeout(10):
        await condition.wait()


# ------------------------------------------------------------------ sync steps


async def test_a_sync_step_uses_its_inputs_and_defaults(
    local: LocalEngine, steps: StepServer
) -> None:
    @steps.step(outputs={"greeting": str})
    def greet(name: str, punctuation: str = "!") -> dict[str, str]:
        return {"greeting": f"Hello, {name}{punctuation}"}

    await steps.start()
    attributes = local.engine.get_step("greet").attributes
    assert attributes["punctuation"].default == '"!"'
    assert (await run(local, ["greet"], {"name": "Ann"})).attributes["greeting"].value == (
        "Hello, Ann!"
    )
    state = await run(local, ["greet"], {"name": "Bo", "punctuation": "?"})
    assert state.attributes["greeting"].value == "Hello, Bo?"


async def test_def_handlers_run_in_a_thread_and_async_def_ones_on_the_loop(
    local: LocalEngine, steps: StepServer
) -> None:
    threads: dict[str, bool] = {}

    @steps.step(outputs={"a": int})
    def blocking(x: int) -> dict[str, int]:
        threads["def"] = threading.current_thread() is threading.main_thread()
        return {"a": x + 1}

    @steps.step(outputs={"b": int})
    async def awaiting(a: int) -> dict[str, int]:
        threads["async def"] = threading.current_thread() is threading.main_thread()
        return {"b": a * 10}

    await steps.start()
    state = await run(local, ["awaiting"], {"x": 1})
    assert state.attributes["b"].value == 20
    assert threads == {"def": False, "async def": True}


async def test_the_receipt_token_and_ids_reach_the_handler(
    local: LocalEngine, steps: StepServer
) -> None:
    seen: list[StepContext] = []

    @steps.step(outputs={"done": bool})
    async def record(x: int, ctx: StepContext) -> dict[str, bool]:
        seen.append(ctx)
        return {"done": True}

    await steps.start()
    state = await run(local, ["record"], {"x": 1})
    (ctx,) = seen
    assert (ctx.flow_id, ctx.step_id, ctx.webhook_url) == (state.id, "record", None)
    assert list(state.executions["record"].work_items) == [ctx.token]
    with pytest.raises(ArgyllError):
        await ctx.succeed(done=False)


async def test_a_step_error_fails_the_work_once_with_its_detail(
    local: LocalEngine, steps: StepServer
) -> None:
    calls: list[str] = []

    @steps.step(outputs={"charged": bool}, work_config=FAST_RETRY)
    def charge(amount: float) -> dict[str, bool]:
        calls.append("charge")
        raise StepError(422, f"cannot charge {amount}")

    await steps.start()
    state = await run(local, ["charge"], {"amount": -1})
    assert state.status is FlowStatus.FAILED
    assert "cannot charge -1" in (state.executions["charge"].error or "")
    assert calls == ["charge"]
    assert "work_retry_scheduled" not in await event_types(local, state.id)


async def test_any_other_exception_is_a_500_and_the_engine_retries_with_the_same_token(
    local: LocalEngine, steps: StepServer
) -> None:
    tokens: list[str] = []

    @steps.step(outputs={"quote": float}, work_config=FAST_RETRY)
    async def price(item: str, ctx: StepContext) -> dict[str, float]:
        tokens.append(ctx.token)
        if len(tokens) == 1:
            raise ConnectionError("the price list is warming up")
        return {"quote": 9.5}

    await steps.start()
    state = await run(local, ["price"], {"item": "tea"})
    assert state.status is FlowStatus.COMPLETED
    assert state.attributes["quote"].value == 9.5
    assert len(tokens) == 2 and tokens[0] == tokens[1]
    events = await local.engine.flow_events(state.id)
    not_completed = next(e for e in events if e["type"] == "work_not_completed")
    assert "ConnectionError: the price list is warming up" in not_completed["data"]["error"]
    assert "work_retry_scheduled" in [event["type"] for event in events]


async def test_a_sync_step_that_returns_no_dict_is_a_500(
    local: LocalEngine, steps: StepServer
) -> None:
    @steps.step(outputs={"y": int}, work_config={**FAST_RETRY, "max_retries": 1})
    def sloppy(x: int) -> Any:
        return x

    await steps.start()
    state = await run(local, ["sloppy"], {"x": 1})
    assert state.status is FlowStatus.FAILED
    events = await local.engine.flow_events(state.id)
    errors = [e["data"]["error"] for e in events if e["type"] == "work_not_completed"]
    assert errors and "must return a dict of outputs, got int" in errors[0]


async def test_a_step_endpoint_answers_bad_bodies_and_bad_outputs_as_problems(
    steps: StepServer,
) -> None:
    @steps.step(outputs={"y": int})
    def double(x: int) -> dict[str, int]:
        return {"y": 2 * x}

    @steps.step(outputs={"y": Any})
    def unserializable(x: int) -> dict[str, Any]:
        return {"y": {x}}

    url = await steps.start()
    async with httpx.AsyncClient(base_url=url) as http:
        failed = await http.post("/unserializable", json={"x": 1})
        assert failed.status_code == 500 and failed.headers["content-type"] == PROBLEM_CONTENT_TYPE
        assert "TypeError: Object of type set is not JSON serializable" in failed.json()["detail"]
        for body in (b"{not json", b"[1]", b"{}"):
            reply = await http.post("/double", content=body)
            assert reply.status_code == 400
            assert reply.headers["content-type"] == PROBLEM_CONTENT_TYPE
            assert reply.json()["status"] == 400 and reply.json()["detail"]
        assert (await http.post("/double", json={"x": 4})).json() == {"y": 8}


# ----------------------------------------------------------------- async steps


async def test_an_async_step_completes_through_its_webhook(
    local: LocalEngine, steps: StepServer
) -> None:
    pending: list[StepContext] = []
    called = asyncio.Event()

    @steps.async_step(outputs={"charge_id": str})
    async def charge(amount: float, ctx: StepContext) -> None:
        pending.append(ctx)
        called.set()

    await steps.start()
    flow_id = await local.engine.start_flow(["charge"], {"amount": 12.5})
    await until(called)
    (ctx,) = pending
    assert ctx.webhook_url == f"{local.url}/webhook/{flow_id}/charge/{ctx.token}"
    assert (await local.engine.get_flow(flow_id)).status is FlowStatus.ACTIVE
    await ctx.succeed({"charge_id": "ch-1"})
    state = await local.engine.wait_flow(flow_id, timeout=10)
    assert state.attributes["charge_id"].value == "ch-1"
    await ctx.succeed(charge_id="ch-2")  # a repeat is answered 200 and changes nothing
    assert (await local.engine.get_flow(flow_id)).attributes["charge_id"].value == "ch-1"


async def test_an_async_step_can_fail_through_its_webhook(
    local: LocalEngine, steps: StepServer
) -> None:
    @steps.async_step(outputs={"charge_id": str})
    def charge(amount: float, ctx: StepContext) -> None:
        asyncio.run_coroutine_threadsafe(ctx.fail("card declined"), loop)

    loop = asyncio.get_running_loop()
    await steps.start()
    state = await run(local, ["charge"], {"amount": 1})
    assert state.status is FlowStatus.FAILED
    assert state.executions["charge"].error == "card declined"


async def test_webhook_posts_are_retried_on_5xx_and_refusals_raise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("argyll.sdk.WEBHOOK_BACKOFF", 0.001)
    answers = iter([(503, {"detail": "busy"}), (200, {}), (404, {"detail": "flow 'f' not found"})])
    async with StepService(lambda call: next(answers)) as webhook:
        ctx = StepContext("f", "s", "t", f"{webhook.url}/webhook/f/s/t")
        await ctx.succeed(x=1)
        assert [call.body for call in webhook.calls] == [{"x": 1}, {"x": 1}]
        with pytest.raises(NotFoundError):
            await ctx.fail("late")
        assert webhook.calls[-1].headers["Content-Type"] == PROBLEM_CONTENT_TYPE
        assert webhook.calls[-1].body["detail"] == "late"
    with pytest.raises(httpx.ConnectError):
        await ctx.succeed(x=1)  # the service is gone: every attempt fails


# ------------------------------------------------------------ the definition


async def test_types_come_from_annotations_and_defaults_make_inputs_optional() -> None:
    steps = StepServer()

    @steps.step(outputs={"total": float, "tags": list[str], "note": "string", "raw": Any})
    def typed(
        text: str,
        count: int,
        ratio: float,
        flag: bool,
        record: dict[str, Any],
        items: list[int],
        pair: tuple[int, int],
        loose: Any,
        bare,  # no annotation: any
        maybe: str | None = None,
        limit: int = 3,
        *,
        ctx: StepContext,
    ) -> dict[str, Any]:
        return {}

    (definition,) = steps.definitions("http://steps:81")
    attributes = definition["attributes"]
    assert {name: spec["type"] for name, spec in attributes.items()} == {
        "text": "string",
        "count": "number",
        "ratio": "number",
        "flag": "boolean",
        "record": "object",
        "items": "array",
        "pair": "array",
        "loose": "any",
        "bare": "any",
        "maybe": "any",
        "limit": "number",
        "total": "number",
        "tags": "array",
        "note": "string",
        "raw": "any",
    }
    roles = {name: spec["role"] for name, spec in attributes.items()}
    assert roles["text"] == "required" and roles["total"] == "output"
    assert (roles["maybe"], attributes["maybe"]["default"]) == ("optional", "null")
    assert (roles["limit"], attributes["limit"]["default"]) == ("optional", "3")
    assert "ctx" not in attributes
    assert definition["http"] == {
        "endpoint": "http://steps:81/typed",
        "method": "POST",
        "health_check": "http://steps:81/health",
        "timeout": 30000,
    }


def test_signatures_that_cannot_be_a_step_are_refused_naming_each_parameter() -> None:
    steps = StepServer()
    with pytest.raises(ValidationError) as refused:

        @steps.async_step(outputs={"x": int})
        def wrong(*args: int, x: int, when: object = object(), **kwargs: int) -> None: ...

    assert {field for field, _ in refused.value.problems} == {
        "wrong.args",
        "wrong.kwargs",
        "wrong.x",
        "wrong.when",
        "wrong.ctx",
    }


def test_a_step_id_is_served_once_and_step_errors_are_http_errors() -> None:
    steps = StepServer()

    @steps.step(step_id="same", name="Same", labels={"team": "a"}, timeout_ms=500)
    def first() -> None: ...

    with pytest.raises(ConflictError):
        steps.step(step_id="same")(lambda: None)
    (definition,) = steps.definitions("http://x")
    assert (definition["name"], definition["labels"], definition["http"]["timeout"]) == (
        "Same",
        {"team": "a"},
        500,
    )
    with pytest.raises(ValueError):
        StepError(200, "fine")
    with pytest.raises(ValueError):
        StepServer("http://engine", engine=AsyncClient())


# ---------------------------------------------------------- serving, registry


async def test_steps_register_over_rest_and_a_changed_step_is_updated(local: LocalEngine) -> None:
    first, second = StepServer(local.url), StepServer(engine_url=local.url)

    @first.step(outputs={"y": int})
    def add(x: int) -> dict[str, int]:
        return {"y": x + 1}

    @second.step(step_id="add", outputs={"y": int})
    def add_two(x: int) -> dict[str, int]:
        return {"y": x + 2}

    try:
        await first.start()
        assert (await run(local, ["add"], {"x": 1})).attributes["y"].value == 2
        await second.start()
        assert local.engine.get_step("add").http.endpoint == f"{second.url}/add"
        assert (await run(local, ["add"], {"x": 1})).attributes["y"].value == 3
    finally:
        await first.aclose()
        await second.aclose()


async def test_health_answers_and_the_engine_sees_the_step_healthy(
    local: LocalEngine, steps: StepServer
) -> None:
    @steps.step(outputs={"y": int})
    def one() -> dict[str, int]:
        return {"y": 1}

    url = await steps.start()
    async with httpx.AsyncClient() as http:
        reply = await http.get(f"{url}/health")
    assert reply.status_code == 200 and reply.json() == {"status": "ok", "steps": ["one"]}
    await local.engine.check_health()
    assert local.engine.catalog.health["one"].status is HealthStatus.HEALTHY
    await steps.aclose()
    await local.engine.check_health()
    assert local.engine.catalog.health["one"].status is HealthStatus.UNHEALTHY


async def test_serve_blocks_until_sigterm(local: LocalEngine, tmp_path: Path) -> None:
    script = tmp_path / "service.py"
    script.write_text(
        "import sys\n"
        "from argyll.sdk import StepServer\n"
        "steps = StepServer(engine_url=sys.argv[1])\n"
        "@steps.step(outputs={'greeting': str})\n"
        "def greet(name: str, punctuation: str = '!') -> dict:\n"
        "    return {'greeting': f'Hello, {name}{punctuation}'}\n"
        "steps.serve(port=0)\n"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        local.url,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stdout is not None
    try:
        async with asyncio.timeout(20):
            line = (await process.stdout.readline()).decode()
        assert line.startswith("argyll steps serving on http://127.0.0.1:") and "greet" in line
        state = await run(local, ["greet"], {"name": "Cy"})
        assert state.attributes["greeting"].value == "Hello, Cy!"
    finally:
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(15):
            assert await process.wait() == 0


# ------------------------------------------------------ the upstream contract


class UpstreamStamp(RequestHandler):
    """A sync step as any Argyll service writes it: Argyll-* headers in, outputs out."""

    def post(self) -> None:
        inputs = json.loads(self.request.body)
        headers = self.request.headers
        stamp = "/".join(
            headers[name] for name in ("Argyll-Flow-ID", "Argyll-Step-ID", "Argyll-Receipt-Token")
        )
        if not inputs.get("greeting"):
            self.set_status(422)
            self.set_header("Content-Type", PROBLEM_CONTENT_TYPE)
            self.finish(json.dumps({"title": "Unprocessable", "status": 422, "detail": "empty"}))
            return
        self.finish({"stamp": stamp, "stamped": inputs["greeting"].upper()})


class UpstreamArchive(RequestHandler):
    """An async step as any Argyll service writes it: acknowledge, then post to the webhook."""

    async def post(self) -> None:
        inputs = json.loads(self.request.body)
        webhook = self.request.headers["Argyll-Webhook-URL"]
        self.set_status(202)
        self.finish({"accepted": True})
        async with httpx.AsyncClient() as http:
            await http.post(webhook, json={"archived": f"archive:{inputs['stamped']}"})


@pytest.fixture
async def upstream() -> AsyncIterator[str]:
    app = Application([(r"/stamp", UpstreamStamp), (r"/archive", UpstreamArchive)])
    (sock,) = bind_sockets(0, "127.0.0.1")
    server = HTTPServer(app)
    server.add_sockets([sock])
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.stop()
    await server.close_all_connections()


def upstream_step(step_id: str, kind: str, url: str, needs: str, makes: list[str]) -> dict:
    attributes = {needs: {"role": "required", "type": "string"}}
    attributes.update({name: {"role": "output", "type": "string"} for name in makes})
    return {
        "id": step_id,
        "type": kind,
        "attributes": attributes,
        "http": {"endpoint": f"{url}/{step_id}", "timeout": 5000},
    }


async def test_upstream_style_steps_run_beside_sdk_steps(
    local: LocalEngine, steps: StepServer, upstream: str
) -> None:
    @steps.step(outputs={"greeting": str})
    def greet(name: str) -> dict[str, str]:
        return {"greeting": f"hello {name}" if name else ""}

    @steps.step(outputs={"receipt": str})
    async def receipt(archived: str, stamp: str) -> dict[str, str]:
        return {"receipt": f"{archived} ({stamp})"}

    await steps.start()
    await local.engine.register_step(
        upstream_step("stamp", "sync", upstream, "greeting", ["stamp", "stamped"])
    )
    await local.engine.register_step(
        upstream_step("archive", "async", upstream, "stamped", ["archived"])
    )
    state = await run(local, ["receipt"], {"name": "ann"})
    assert state.status is FlowStatus.COMPLETED
    (token,) = state.executions["stamp"].work_items
    assert state.attributes["receipt"].value == (f"archive:HELLO ANN ({state.id}/stamp/{token})")
    refused = await run(local, ["receipt"], {"name": ""})
    assert refused.executions["stamp"].status is StepStatus.FAILED
    assert "empty" in (refused.executions["stamp"].error or "")


async def test_an_sdk_async_step_answers_a_caller_that_only_knows_the_headers(
    steps: StepServer,
) -> None:
    """The SDK against the bare docs/steps.md contract: the caller is plain HTTP, not the engine."""
    reported: list[asyncio.Task[None]] = []

    @steps.async_step(outputs={"done": bool})
    async def finish(job: str, ctx: StepContext) -> None:
        reported.append(asyncio.get_running_loop().create_task(ctx.succeed(done=True)))

    url = await steps.start()
    async with StepService(lambda call: (200, {})) as webhook, httpx.AsyncClient() as http:
        headers = {
            "Argyll-Flow-ID": "f1",
            "Argyll-Step-ID": "finish",
            "Argyll-Receipt-Token": "tok",
            "Argyll-Webhook-URL": f"{webhook.url}/webhook/f1/finish/tok",
        }
        reply = await http.post(f"{url}/finish", json={"job": "j"}, headers=headers)
        assert (reply.status_code, reply.json()) == (202, {"accepted": True})
        async with asyncio.timeout(10):
            await asyncio.gather(*reported)
        no_webhook = await http.post(f"{url}/finish", json={"job": "j"})
        assert no_webhook.status_code == 400
    (call,) = webhook.calls
    assert (call.path, call.body) == ("/webhook/f1/finish/tok", {"done": True})
