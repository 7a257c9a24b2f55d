"""Operating flows end to end: cancel, retry, steps resolved by hand, deadlines, the audit trail.

Real HTTP step services on loopback count every call; async steps' webhooks go
through the served REST API. What must never happen is proved by counting.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from argyll import Engine
from argyll.errors import ConflictError, ValidationError
from argyll.model import FlowStatus, StepStatus
from argyll.runtime import scripts
from argyll.server.local import LocalEngine, serve_engine
from argyll.testing import Call, FakeClock, StepService, script_step, wait_until

TOKEN = "Argyll-Receipt-Token"
WEBHOOK = "Argyll-Webhook-Url"
Reply = tuple[int, Any]


def http_step(
    step_id: str,
    url: str,
    *,
    requires: tuple[str, ...] = (),
    optional: dict[str, Any] | None = None,
    outputs: tuple[str, ...] = (),
    kind: str = "sync",
    **extra: Any,
) -> dict[str, Any]:
    """An HTTP step calling ``url``/``step_id``; ``optional`` maps inputs to their defaults."""
    attributes: dict[str, dict[str, Any]] = {name: {"role": "required"} for name in requires}
    for name, default in (optional or {}).items():
        attributes[name] = {"role": "optional", "default": json.dumps(default)}
    attributes.update({name: {"role": "output", "type": "string"} for name in outputs})
    http = {"endpoint": f"{url}/{step_id}", "timeout": 10000, **extra.pop("http", {})}
    return {"id": step_id, "type": kind, "attributes": attributes, "http": http, **extra}


class Service:
    """Answers each step by its path with the next of its scripted replies.

    A reply is ``(status, body)``, a function of the call giving one, or an
    ``asyncio.Event``: the call waits until it is set, then takes the next reply.
    ``calls(step)`` counts what the service was really asked.
    """

    def __init__(self, **replies: list[Any]) -> None:
        self.replies = {f"/{step}": list(answers) for step, answers in replies.items()}
        self.service = StepService(self.answer)

    async def answer(self, call: Call) -> Reply:
        answers = self.replies[call.path]
        reply = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(reply, asyncio.Event):
            await reply.wait()
            reply = answers.pop(0) if len(answers) > 1 else answers[0]
        return reply(call) if callable(reply) else reply

    def calls(self, step: str) -> list[Call]:
        return [call for call in self.service.calls if call.path == f"/{step}"]

    @property
    def url(self) -> str:
        return self.service.url


@asynccontextmanager
async def served(*definitions: dict[str, Any], **options: Any) -> AsyncIterator[LocalEngine]:
    """An engine with its REST API and webhooks on loopback, the steps registered."""
    async with await serve_engine(**options) as local:
        for definition in definitions:
            await local.engine.register_step(definition)
        yield local


async def log_of(engine: Engine, flow_id: str) -> list[dict[str, Any]]:
    return await engine.flow_events(flow_id)


def of_type(log: list[dict[str, Any]], *types: str) -> list[dict[str, Any]]:
    return [event for event in log if event["type"] in types]


def after(log: list[dict[str, Any]], event_type: str) -> list[dict[str, Any]]:
    """The events that follow the first one of ``event_type``."""
    first = next(n for n, event in enumerate(log) if event["type"] == event_type)
    return log[first + 1 :]


async def recorded(engine: Engine, flow_id: str, event_type: str, count: int = 1) -> bool:
    return len(of_type(await log_of(engine, flow_id), event_type)) >= count


async def post(url: str, body: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.post(url, json=body)


# ------------------------------------------------------------------- cancel


async def test_cancel_starts_nothing_more_and_records_a_late_http_result(store_url: str):
    release = asyncio.Event()
    service = Service(a=[release, (200, {"x": "late"})], b=[(200, {"y": "never"})])
    async with service.service, Engine(store_url) as engine:
        await engine.register_step(http_step("a", service.url, outputs=("x",)))
        await engine.register_step(http_step("b", service.url, requires=("x",), outputs=("y",)))
        await engine.start_flow(["b"], flow_id="f")
        await wait_until(lambda: service.calls("a"), "a called")

        state = await engine.cancel_flow("f", "ordered by mistake")
        assert state.status is FlowStatus.CANCELED
        for step in ("a", "b"):
            assert state.executions[step].status is StepStatus.SKIPPED
            assert state.executions[step].reason == "flow canceled"

        release.set()
        await wait_until(lambda: recorded(engine, "f", "work_succeeded"), "a's late result")
        state = await engine.get_flow("f")
        log = await log_of(engine, "f")

    assert state.status is FlowStatus.CANCELED
    assert "x" not in state.attributes
    assert service.calls("b") == []
    (late,) = of_type(after(log, "flow_canceled"), "work_succeeded")
    assert late["data"]["outputs"] == {"x": "late"}
    assert not of_type(after(log, "flow_canceled"), "step_started", "work_started")


PATTERN_SCAN = 'return {found = string.find(s, ".-.-.-.-.-.-b") ~= nil}'
"""A Lua pattern that backtracks for minutes: no budget sees it, so it runs in a child process."""


def script_children() -> list[int]:
    """Pids of this process's children that run an isolated script."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdecimal():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rpartition(")")[2].split()[1])
        if parent == os.getpid() and b"argyll.runtime.isolated" in command:
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
async def test_cancel_kills_a_script_running_in_its_own_process(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(scripts, "WALL_CLOCK_LIMIT", 120.0)  # only the cancel can end it
    scan = script_step("scan", PATTERN_SCAN, language="lua", requires=["s"], outputs=["found"])
    async with Engine() as engine:
        await engine.register_step(scan)
        await engine.start_flow(["scan"], {"s": "a" * 300}, flow_id="f")
        (child,) = await wait_until(script_children, "the script's child process")
        await engine.cancel_flow("f")
        await wait_until(lambda: child not in script_children(), "the child killed", timeout=5)
        log = await log_of(engine, "f")
    assert not of_type(log, "work_succeeded", "work_failed", "work_not_completed")


SLOW_ALE = "{:total (reduce + (map inc (range n)))}"
"""Within the full budget, but far beyond the inline slice: it runs on a worker thread."""


def script_on_a_thread() -> bool:
    """Whether one of the engine's script threads is inside a script right now."""
    frames = sys._current_frames()
    for thread in threading.enumerate():
        frame = frames.get(thread.ident or 0) if thread.name.startswith("argyll-script") else None
        while frame is not None:
            if f"argyll{os.sep}script" in frame.f_code.co_filename:
                return True
            frame = frame.f_back
    return False


async def test_cancel_drops_the_result_of_a_script_still_running_on_a_thread():
    """A thread can't be stopped: it runs to its budget, and its result is never recorded."""
    slow = script_step("slow", SLOW_ALE, requires=["n"], outputs=["total"])
    after_it = script_step("next", "{:done total}", requires=["total"], outputs=["done"])
    async with Engine() as engine:
        await engine.register_step(slow)
        await engine.register_step(after_it)
        await engine.start_flow(["next"], {"n": 300_000}, flow_id="f")
        await wait_until(script_on_a_thread, "the script on a worker thread")
        await engine.cancel_flow("f")
        await wait_until(lambda: not script_on_a_thread(), "the thread done", timeout=30)
        await engine.start_flow(["slow"], {"n": 1}, flow_id="later")  # the engine goes on
        assert (await engine.wait_flow("later", 10)).status is FlowStatus.COMPLETED
        state = await engine.get_flow("f")
        log = await log_of(engine, "f")
    assert state.status is FlowStatus.CANCELED
    assert "total" not in state.attributes
    assert not of_type(log, "work_succeeded", "work_failed", "work_not_completed")
    assert [e["data"]["step_id"] for e in of_type(log, "step_started")] == ["slow"]


async def test_a_webhook_after_cancel_is_answered_and_recorded_and_starts_nothing():
    service = Service(pay=[(202, {})], ship=[(200, {"shipped": "yes"})])
    async with service.service:
        pay = http_step("pay", service.url, outputs=("paid",), kind="async")
        ship = http_step("ship", service.url, requires=("paid",), outputs=("shipped",))
        async with served(pay, ship) as local:
            engine = local.engine
            await engine.start_flow(["ship"], flow_id="f")
            (call,) = await wait_until(lambda: service.calls("pay"), "pay called")
            await engine.cancel_flow("f", "customer left")
            for _ in range(2):  # a repeat is answered alike and changes nothing
                reply = await post(call.headers[WEBHOOK], {"paid": "late"})
                assert reply.status_code == 200, reply.text
            state = await engine.get_flow("f")
            log = await log_of(engine, "f")
    assert state.status is FlowStatus.CANCELED
    assert "paid" not in state.attributes
    assert service.calls("ship") == []
    (late,) = of_type(after(log, "flow_canceled"), "work_succeeded")
    assert late["data"]["token"] == call.headers[TOKEN]
    assert not of_type(after(log, "flow_canceled"), "step_started", "work_started")


# -------------------------------------------------------------------- pause


async def test_a_due_retry_waits_for_the_resume():
    """`held` is paused with a retry scheduled; `witness`, due later, retries meanwhile."""
    tries: collections.Counter[str] = collections.Counter()

    def flaky(call: Call) -> Reply:
        flow_id = call.headers["Argyll-Flow-Id"]
        tries[flow_id] += 1
        return (503, {"detail": "later"}) if tries[flow_id] == 1 else (200, {"y": flow_id})

    retrying = {"work_config": {"init_backoff": 200, "backoff_type": "fixed", "max_retries": 3}}
    service = Service(flaky=[flaky])
    async with service.service, Engine() as engine:
        await engine.register_step(http_step("flaky", service.url, outputs=("y",), **retrying))
        await engine.start_flow(["flaky"], flow_id="held")
        await wait_until(lambda: recorded(engine, "held", "work_retry_scheduled"), "a retry")
        await engine.pause_flow("held", "not now")
        await engine.start_flow(["flaky"], flow_id="witness")
        assert (await engine.wait_flow("witness", 10)).status is FlowStatus.COMPLETED
        assert tries["held"] == 1, "a due retry ran while paused"
        assert (await engine.get_flow("held")).status is FlowStatus.PAUSED

        await engine.resume_flow("held")
        done = await engine.wait_flow("held", 10)
        log = await log_of(engine, "held")
    assert done.status is FlowStatus.COMPLETED
    assert tries["held"] == 2
    assert after(log, "flow_paused")[0]["type"] == "flow_resumed"
    assert [e["data"]["retry_count"] for e in of_type(log, "work_started")] == [0, 1]


# -------------------------------------------------------------------- retry


def chain(url: str, *, c_needs_y: bool = True) -> list[dict[str, Any]]:
    """a -> b -> c over HTTP; c needs b's ``y``, or takes a default instead."""
    c_input: dict[str, Any] = {"requires": ("y",)} if c_needs_y else {"optional": {"y": "none"}}
    return [
        http_step("a", url, outputs=("x",)),
        http_step("b", url, requires=("x",), outputs=("y",)),
        http_step("c", url, outputs=("z",), **c_input),
    ]


def echo_y(call: Call) -> Reply:
    return 200, {"z": call.body["y"]}


BAD = (400, {"title": "Bad Request", "detail": "b says no"})


async def test_retry_reruns_only_what_failed_and_is_refused_twice_in_a_row():
    held = asyncio.Event()
    service = Service(
        a=[(200, {"x": "1"})],
        b=[BAD, held, BAD, (200, {"y": "2"})],
        c=[(200, {"z": "3"})],
    )
    async with service.service, served(*chain(service.url)) as local:
        engine = local.engine
        await engine.start_flow(["c"], flow_id="f")
        failed = await engine.wait_flow("f", 10)
        assert failed.status is FlowStatus.FAILED
        assert failed.executions["c"].status is StepStatus.FAILED

        state = await engine.retry_flow("f", reason="b is fixed")
        assert state.status is FlowStatus.ACTIVE
        await wait_until(lambda: len(service.calls("b")) == 2, "b called again")
        with pytest.raises(ConflictError):
            await engine.retry_flow("f")
        reply = await post(f"{local.url}/engine/flow/f/retry", {})
        assert reply.status_code == 409, reply.text

        held.set()
        assert (await engine.wait_flow("f", 10)).status is FlowStatus.FAILED
        await engine.retry_flow("f", reason="really fixed")
        done = await engine.wait_flow("f", 10)
        log = await log_of(engine, "f")

    assert done.status is FlowStatus.COMPLETED
    assert done.attributes["z"].value == "3"
    assert [len(service.calls(s)) for s in "abc"] == [1, 3, 1]
    assert service.calls("c")[0].body == {"y": "2"}
    assert len({call.headers[TOKEN] for call in service.calls("b")}) == 3
    retried = of_type(log, "flow_retried")
    assert [sorted(e["data"]["steps"]) for e in retried] == [["b", "c"], ["b", "c"]]
    assert [e["data"]["reason"] for e in retried] == ["b is fixed", "really fixed"]
    started = collections.Counter(e["data"]["step_id"] for e in of_type(log, "step_started"))
    assert started == {"a": 1, "b": 3, "c": 1}


@pytest.mark.parametrize(
    ("resolve", "z_from"),
    [({"complete": {"b": {"y": "by hand"}}}, "by hand"), ({"skip": ["b"]}, "none")],
)
async def test_a_retry_resolves_steps_by_hand_first(resolve: dict[str, Any], z_from: str):
    service = Service(a=[(200, {"x": "1"})], b=[BAD], c=[echo_y])
    async with service.service, served(*chain(service.url, c_needs_y=False)) as local:
        engine = local.engine
        await engine.start_flow(["b", "c"], flow_id="f")
        assert (await engine.wait_flow("f", 10)).status is FlowStatus.FAILED
        assert service.calls("c") == []
        await engine.retry_flow("f", reason="we know the answer", **resolve)
        done = await engine.wait_flow("f", 10)
    assert done.status is FlowStatus.COMPLETED
    assert done.attributes["z"].value == z_from
    assert [len(service.calls(s)) for s in "ab"] == [1, 1]
    assert [call.body for call in service.calls("c")] == [{"y": z_from}]


# ------------------------------------------------------ resolved by hand


async def test_a_step_completed_by_hand_carries_the_flow_on_and_its_late_webhook_is_ignored():
    service = Service(pay=[(202, {})], ship=[(200, {"shipped": "yes"})])
    async with service.service:
        pay = http_step("pay", service.url, outputs=("paid",), kind="async")
        ship = http_step("ship", service.url, requires=("paid",), outputs=("shipped",))
        async with served(pay, ship) as local:
            engine = local.engine
            await engine.start_flow(["ship"], flow_id="f")
            (call,) = await wait_until(lambda: service.calls("pay"), "pay called")
            for wrong in ({"nope": "x"}, {"paid": 5}):
                with pytest.raises(ValidationError):
                    await engine.complete_step("f", "pay", wrong)
            await engine.complete_step("f", "pay", {"paid": "by hand"}, "the bank phoned")
            done = await engine.wait_flow("f", 10)
            reply = await post(call.headers[WEBHOOK], {"paid": "late"})
            assert reply.status_code == 200, reply.text
            state = await engine.get_flow("f")
            log = await log_of(engine, "f")

    assert done.status is FlowStatus.COMPLETED
    assert state.attributes["paid"].value == "by hand"
    assert [c.body for c in service.calls("ship")] == [{"paid": "by hand"}]
    (by_hand,) = [e for e in of_type(log, "step_completed") if e["data"]["step_id"] == "pay"]
    assert by_hand["data"]["actor"] == "anonymous"
    assert by_hand["data"]["reason"] == "the bank phoned"
    (late,) = of_type(after(log, "flow_completed"), "work_succeeded")
    assert late["data"] == {
        "flow_id": "f",
        "step_id": "pay",
        "token": call.headers[TOKEN],
        "outputs": {"paid": "late"},
    }
    assert len(of_type(log, "attribute_set")) == 2  # paid (by hand) and shipped, nothing late


async def test_a_step_skipped_by_hand_lets_the_flow_go_on_without_it():
    service = Service(pay=[(202, {})], note=[(200, {"noted": "yes"})])
    async with service.service:
        pay = http_step("pay", service.url, outputs=("paid",), kind="async")
        note = http_step("note", service.url, optional={"paid": "unpaid"}, outputs=("noted",))
        async with served(pay, note) as local:
            engine = local.engine
            await engine.start_flow(["note"], flow_id="f")
            await wait_until(lambda: service.calls("pay"), "pay called")
            await engine.skip_step("f", "pay", "paid at the till")
            done = await engine.wait_flow("f", 10)
    assert done.status is FlowStatus.COMPLETED
    assert done.executions["pay"].reason == "paid at the till"
    assert [c.body for c in service.calls("note")] == [{"paid": "unpaid"}]


# ---------------------------------------------------------------- deadlines


async def test_a_flow_past_its_timeout_fails_saying_so():
    service = Service(pay=[(202, {})])
    async with service.service, Engine() as engine:
        await engine.register_step(http_step("pay", service.url, outputs=("paid",), kind="async"))
        await engine.start_flow(["pay"], flow_id="f", timeout=300)
        state = await engine.wait_flow("f", 10)
    assert state.status is FlowStatus.FAILED
    assert state.error == "flow timed out after 300 ms"


@pytest.mark.parametrize("paused", [False, True])
async def test_a_deadline_fires_after_a_restart(tmp_path: Path, paused: bool):
    """The clock moves past the deadline while no engine runs; the next one fails the flow."""
    store = f"sqlite:///{tmp_path / 'argyll.db'}"
    clock = FakeClock()
    service = Service(pay=[(202, {})])
    async with service.service:
        async with Engine(store, clock=clock) as engine:
            await engine.register_step(
                http_step("pay", service.url, outputs=("paid",), kind="async")
            )
            await engine.start_flow(["pay"], flow_id="f", timeout=60_000)
            await wait_until(lambda: service.calls("pay"), "pay called")
            if paused:
                await engine.pause_flow("f")
        clock.advance(60_000)
        async with Engine(store, clock=clock) as engine:
            state = await engine.wait_flow("f", 10)
    assert state.status is FlowStatus.FAILED
    assert state.error == "flow timed out after 60000 ms"


CALLBACK_STEP = {
    "http": {"callback_timeout": 1000},
    "work_config": {"max_retries": 2, "init_backoff": 10, "backoff_type": "fixed"},
}


def async_pay(url: str, options: dict[str, Any]) -> dict[str, Any]:
    return http_step("pay", url, outputs=("paid",), kind="async", **options)


async def test_an_async_step_without_its_webhook_in_time_is_sent_again_under_its_token():
    service = Service(pay=[(202, {})])
    async with service.service, served(async_pay(service.url, CALLBACK_STEP)) as local:
        engine = local.engine
        await engine.start_flow(["pay"], flow_id="f")
        first, second = await wait_until(
            lambda: service.calls("pay")[:2] if len(service.calls("pay")) >= 2 else None,
            "pay sent again",
        )
        assert (await post(second.headers[WEBHOOK], {"paid": "second"})).status_code == 200
        done = await engine.wait_flow("f", 10)
        abandoned = await post(first.headers[WEBHOOK], {"paid": "first"})
        assert abandoned.status_code == 200, abandoned.text
        state = await engine.get_flow("f")
        log = await log_of(engine, "f")

    assert done.status is FlowStatus.COMPLETED
    assert first.headers[TOKEN] == second.headers[TOKEN]
    assert state.attributes["paid"].value == "second"
    assert len(service.calls("pay")) == 2
    (gave_up,) = of_type(log, "work_not_completed")
    assert gave_up["data"]["error"] == "no webhook within 1000 ms"
    assert [e["data"]["retry_count"] for e in of_type(log, "work_started")] == [0, 1]
    assert len(of_type(log, "work_succeeded")) == 1


async def test_a_webhook_for_an_attempt_given_up_while_its_retry_waits_is_applied_once():
    slow_retry = {**CALLBACK_STEP, "work_config": {"init_backoff": 60_000, "max_retries": 2}}
    service = Service(pay=[(202, {})])
    async with service.service, served(async_pay(service.url, slow_retry)) as local:
        engine = local.engine
        await engine.start_flow(["pay"], flow_id="f")
        (call,) = await wait_until(lambda: service.calls("pay"), "pay called")
        await wait_until(lambda: recorded(engine, "f", "work_retry_scheduled"), "the retry")
        for _ in range(2):
            assert (await post(call.headers[WEBHOOK], {"paid": "late"})).status_code == 200
        done = await engine.wait_flow("f", 10)
        log = await log_of(engine, "f")
    assert done.status is FlowStatus.COMPLETED
    assert done.attributes["paid"].value == "late"
    assert len(of_type(log, "work_succeeded")) == 1
    assert len(service.calls("pay")) == 1


# -------------------------------------------------------------------- audit


async def test_every_operator_action_is_an_event_saying_who_and_why():
    service = Service(pay=[(202, {})], ship=[(200, {"shipped": "yes"})])
    async with service.service:
        pay = http_step("pay", service.url, outputs=("paid",), kind="async")
        ship = http_step("ship", service.url, requires=("paid",), outputs=("shipped",))
        async with served(pay, ship) as local:
            engine = local.engine
            await engine.start_flow(["ship"], flow_id="f")
            await wait_until(lambda: service.calls("pay"), "pay called")
            await engine.pause_flow("f", "deploying")
            await engine.resume_flow("f", "deployed")
            await engine.cancel_flow("f", "wrong address")
            await engine.retry_flow("f", reason="address fixed")
            await wait_until(lambda: len(service.calls("pay")) == 2, "pay called again")
            await engine.complete_step("f", "pay", {"paid": "cash"}, "paid in cash")
            await engine.wait_flow("f", 10)
            log = await log_of(engine, "f")

    story = [
        (e["type"], e["data"].get("step_id"), e["data"].get("actor"), e["data"].get("reason"))
        for e in log
        if e["type"].startswith(("flow_", "step_"))
    ]
    anonymous = "anonymous"
    assert story == [
        ("flow_started", None, anonymous, None),
        ("step_started", "pay", None, None),
        ("flow_paused", None, anonymous, "deploying"),
        ("flow_resumed", None, anonymous, "deployed"),
        ("flow_canceled", None, anonymous, "wrong address"),
        ("step_skipped", "ship", None, "flow canceled"),
        ("step_skipped", "pay", None, "flow canceled"),
        ("flow_retried", None, anonymous, "address fixed"),
        ("step_started", "pay", None, None),
        ("step_completed", "pay", anonymous, "paid in cash"),
        ("step_started", "ship", None, None),
        ("step_completed", "ship", None, None),
        ("flow_completed", None, None, None),
    ]
