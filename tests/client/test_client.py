"""Client and AsyncClient against a real ``argyll serve``: every endpoint, every error, streams.

Each REST test runs twice, through the sync ``Client`` (in a thread, so the test's
loop keeps serving the step services the engine calls) and the ``AsyncClient``.
One server serves the whole module, so every test names its own steps and flows.
"""

from __future__ import annotations

import asyncio
import os
import select
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from argyll.client import AsyncClient, Client, flow_state_from_dict
from argyll.client import client as client_module
from argyll.client.protocol import problem_error
from argyll.decide import Failed, Succeeded
from argyll.errors import (
    ArgyllError,
    ConflictError,
    MissingInputsError,
    NotFoundError,
    StoreError,
    UnknownGoalsError,
    ValidationError,
)
from argyll.events import FLOW_ENDED_TYPES as FLOW_ENDED
from argyll.events import Event
from argyll.model import FlowStatus, HealthStatus, Step, StepStatus
from argyll.server import serve_engine
from argyll.server.app import serve
from argyll.store.memory import MemoryEventStore
from argyll.testing import StepService, script_step, wait_until

ROOT = Path(__file__).parents[2]
BODY_LIMIT = 64 * 1024
SERVE = [sys.executable, "-m", "argyll", "serve", "--port", "0", "--store", "memory://"]
HELLO = script_step(
    "hello",
    '{:greeting (str "Hello, " name)}',
    requires=["name"],
    outputs=["greeting"],
    types={"name": "string", "greeting": "string"},
)


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``argyll serve`` on a free port with a memory store, for the whole module."""
    log = (tmp_path_factory.mktemp("serve") / "stderr.log").open("w")
    process = subprocess.Popen(
        [*SERVE, "--max-body-size", str(BODY_LIMIT)],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stdout is not None
    readable, _, _ = select.select([process.stdout], [], [], 20)
    assert readable, "argyll serve printed no ready line within 20 s"
    line = process.stdout.readline()
    assert line.startswith("argyll serving on "), line
    yield line.split()[3]
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0
    log.close()


class Threaded:
    """The sync ``Client`` behind awaitable methods: each call runs in a worker thread."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._client, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await asyncio.to_thread(method, *args, **kwargs)

        return call


@pytest.fixture(params=["sync", "async"])
async def client(request: pytest.FixtureRequest, server_url: str) -> AsyncIterator[Any]:
    if request.param == "async":
        async with AsyncClient(server_url) as async_client:
            yield async_client
    else:
        with Client(server_url) as sync_client:
            yield Threaded(sync_client)


@pytest.fixture
async def raw(server_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """Plain HTTP, to compare the clients' errors with the server's own problem details."""
    async with httpx.AsyncClient(base_url=server_url) as http:
        yield http


@pytest.fixture
async def acks() -> AsyncIterator[StepService]:
    """An async step's service: acknowledges every call; results come through the webhook."""
    async with StepService(lambda call: (202, {"accepted": True})) as service:
        yield service


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def async_step(step_id: str, url: str) -> dict[str, Any]:
    return {
        "id": step_id,
        "type": "async",
        "attributes": {
            "greeting": {"role": "required", "type": "string"},
            "approved": {"role": "output", "type": "boolean"},
        },
        "http": {"endpoint": f"{url}/{step_id}", "timeout": 5000},
    }


async def detail(raw: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> str:
    response = await raw.request(method, path, **kwargs)
    assert response.headers["content-type"] == "application/problem+json"
    return response.json()["detail"]


def without_durations(state: dict[str, Any]) -> dict[str, Any]:
    """A flow state's JSON less each ``duration``: the server computes it from microsecond
    times, a parsed state from the millisecond ones of the JSON, so the two can differ by 1."""
    executions = {
        step: {key: value for key, value in execution.items() if key != "duration"}
        for step, execution in state["executions"].items()
    }
    return {**state, "executions": executions}


async def waiting_flow(client: Any, acks: StepService) -> tuple[str, str, str]:
    """A flow whose async step was called and waits for its result: (flow, step, token)."""
    step_id = unique("approve")
    await client.register_step(HELLO)
    await client.register_step(async_step(step_id, acks.url))
    flow_id = await client.start_flow([step_id], {"name": "Ann"})

    def called() -> bool:
        return any(c.headers.get("Argyll-Flow-Id") == flow_id for c in acks.calls)

    await wait_until(called, f"a call of {step_id} for {flow_id}")
    state = await client.get_flow(flow_id)
    (token,) = state.executions[step_id].work_items
    return flow_id, step_id, token


# -------------------------------------------------------------------- service


async def test_health_names_the_service_and_its_store(client: Any) -> None:
    health = await client.health()
    assert (health.service, health.status, health.store) == ("argyll", "ok", "memory")
    assert health.version


async def test_engine_info_has_the_catalog_health_and_active_flows(
    client: Any, acks: StepService
) -> None:
    flow_id, step_id, _ = await waiting_flow(client, acks)
    info = await client.engine_info()
    assert info.steps[step_id].http.endpoint == f"{acks.url}/{step_id}"
    assert info.health["hello"].status is HealthStatus.HEALTHY
    assert info.active_flows[flow_id].status is FlowStatus.ACTIVE
    assert info.last_updated is not None


# ---------------------------------------------------------------------- steps


async def test_a_step_is_registered_read_listed_updated_and_unregistered(client: Any) -> None:
    step_id = unique("shout")
    definition = script_step(step_id, '{:loud (str greeting "!")}', requires=["greeting"])
    first = await client.submit_step(definition)
    assert first.created and isinstance(first.step, Step) and first.step.id == step_id
    assert (await client.submit_step(definition)).created is False
    assert await client.get_step(step_id) == first.step
    assert step_id in {step.id for step in await client.list_steps()}

    updated = await client.update_step(step_id, {**definition, "name": "Shout"})
    assert updated.name == "Shout" and (await client.get_step(step_id)).name == "Shout"

    await client.unregister_step(step_id)
    with pytest.raises(NotFoundError) as missing:
        await client.get_step(step_id)
    assert (missing.value.kind, missing.value.ident) == ("step", step_id)


async def test_an_invalid_step_raises_validation_error_naming_each_field(
    client: Any, raw: httpx.AsyncClient
) -> None:
    bad = {"id": "bad one", "type": "script", "http": {"endpoint": "http://x"}}
    with pytest.raises(ValidationError) as refused:
        await client.register_step(bad)
    fields = {field for field, _ in refused.value.problems}
    assert {"id", "script", "http"} <= fields
    assert str(refused.value) == await detail(raw, "POST", "/engine/step", json=bad)


async def test_a_different_step_under_a_taken_id_is_a_conflict(client: Any) -> None:
    step_id = unique("twice")
    await client.register_step(script_step(step_id, "{:a 1}"))
    with pytest.raises(ConflictError):
        await client.register_step(script_step(step_id, "{:a 2}"))


async def test_updating_refuses_unknown_steps_and_bad_definitions(client: Any) -> None:
    step_id = unique("nowhere")
    with pytest.raises(NotFoundError) as missing:
        await client.update_step(step_id, script_step(step_id, "{:a 1}"))
    assert missing.value.ident == step_id
    await client.register_step(HELLO)
    with pytest.raises(ValidationError) as refused:
        await client.update_step("hello", {**HELLO, "script": {"language": "ale", "script": "("}})
    assert [field for field, _ in refused.value.problems] == ["script.script"]
    with pytest.raises(NotFoundError):
        await client.unregister_step(step_id)


async def test_step_health_for_all_and_for_one(client: Any) -> None:
    await client.register_step(HELLO)
    assert (await client.steps_health())["hello"].status is HealthStatus.HEALTHY
    assert (await client.step_health("hello")).status is HealthStatus.HEALTHY
    with pytest.raises(NotFoundError):
        await client.step_health(unique("ghost"))


async def test_a_body_over_the_servers_limit_raises_argyll_error(client: Any) -> None:
    huge = script_step(unique("huge"), "{:a 1}", labels={"blob": "x" * BODY_LIMIT})
    with pytest.raises(ArgyllError) as refused:
        await client.register_step(huge)
    assert type(refused.value) is ArgyllError
    assert "over the limit" in str(refused.value)


# ---------------------------------------------------------------------- flows


async def test_plan_lists_the_steps_and_what_is_required(client: Any) -> None:
    await client.register_step(HELLO)
    plan = await client.plan(["hello"])
    assert plan.goals == ("hello",) and plan.required == ("name",)
    assert set(plan.steps) == {"hello"}
    assert (await client.plan("hello", {"name": "Ann"})).required == ()


async def test_unknown_goals_and_missing_inputs_raise_their_errors(
    client: Any, raw: httpx.AsyncClient
) -> None:
    await client.register_step(HELLO)
    ghost = unique("ghost")
    with pytest.raises(UnknownGoalsError) as unknown:
        await client.plan([ghost])
    assert unknown.value.goals == [ghost]
    with pytest.raises(UnknownGoalsError):
        await client.start_flow([ghost])
    with pytest.raises(MissingInputsError) as missing:
        await client.start_flow(["hello"])
    assert missing.value.inputs == ["name"]
    body = {"goals": ["hello"], "init": {}}
    assert str(missing.value) == await detail(raw, "POST", "/engine/flow", json=body)


async def test_a_flow_is_started_once_per_id(client: Any) -> None:
    await client.register_step(HELLO)
    flow_id = unique("flow")
    first = await client.submit_flow(["hello"], {"name": "Ann"}, flow_id)
    assert (first.flow_id, first.created) == (flow_id, True)
    again = await client.submit_flow(["hello"], {"name": "Ann"}, flow_id)
    assert (again.flow_id, again.created) == (flow_id, False)
    with pytest.raises(ConflictError):
        await client.start_flow(["hello"], {"name": "Bob"}, flow_id)
    with pytest.raises(ValidationError) as refused:
        await client.start_flow(["hello"], {"name": "Ann"}, "not valid!")
    assert [field for field, _ in refused.value.problems] == ["id"]


async def test_a_flow_is_read_as_typed_state_status_and_events(
    client: Any, raw: httpx.AsyncClient
) -> None:
    await client.register_step(HELLO)
    flow_id = await client.start_flow(["hello"], {"name": "Ann"})
    state = await client.wait_flow(flow_id, timeout=10)
    assert state.status is FlowStatus.COMPLETED
    assert state.attributes["greeting"].value == "Hello, Ann"
    assert state.attributes["greeting"].step == "hello"
    assert state.executions["hello"].status is StepStatus.COMPLETED
    assert await client.flow_status(flow_id) is FlowStatus.COMPLETED
    served = (await raw.get(f"/engine/flow/{flow_id}")).json()
    assert without_durations((await client.get_flow(flow_id)).to_dict()) == without_durations(
        served
    )

    events = await client.events(flow_id)
    assert all(isinstance(event, Event) for event in events)
    assert [event.seq for event in events] == list(range(1, len(events) + 1))
    assert [event.type for event in events[-2:]] == ["flow_completed", "flow_deactivated"]
    assert [event.to_dict() for event in events] == await client.flow_events(flow_id)


async def test_flows_are_queried_by_filters_and_paged(client: Any) -> None:
    await client.register_step(HELLO)
    run = unique("run")
    started = [
        await client.start_flow(["hello"], {"name": str(n)}, f"{run}-{n}", labels={"run": run})
        for n in range(5)
    ]
    for flow_id in started:
        await client.wait_flow(flow_id, timeout=10)

    first = await client.query_flows(labels={"run": run}, limit=2, sort="created_at")
    assert [flow.id for flow in first.flows] == started[:2]
    assert first.flows[0].goals == ("hello",)
    rest = await client.query_flows(
        labels={"run": run}, sort="created_at", cursor=first.next_cursor
    )
    assert [flow.id for flow in rest.flows] == started[2:]
    assert rest.next_cursor is None
    after = first.flows[-1].created_at
    newer = await client.query_flows(
        labels={"run": run}, statuses=[FlowStatus.COMPLETED], goals=["hello"], created_after=after
    )
    assert [flow.id for flow in newer.flows] == started[:1:-1]
    assert (await client.query_flows(id_prefix=f"{run}-3")).flows[0].id == started[3]
    with pytest.raises(ValidationError) as refused:
        await client.query_flows(limit=1001, cursor="x")
    assert [field for field, _ in refused.value.problems] == ["limit", "cursor"]
    info = await client.engine_info()
    assert info.flow_counts[FlowStatus.COMPLETED] >= 5
    assert len(info.active_flows) <= 50


async def test_unknown_flows_raise_not_found_with_the_flow_id(client: Any) -> None:
    ghost = unique("ghost")
    for read in (client.get_flow, client.flow_status, client.events, client.flow_events):
        with pytest.raises(NotFoundError) as missing:
            await read(ghost)
        assert (missing.value.kind, missing.value.ident) == ("flow", ghost)
    with pytest.raises(NotFoundError):
        await client.wait_flow(ghost, timeout=5)


async def test_flows_are_listed_by_status_with_a_limit(client: Any, acks: StepService) -> None:
    waiting, _, _ = await waiting_flow(client, acks)
    done = await client.start_flow(["hello"], {"name": "Cy"})
    await client.wait_flow(done, timeout=10)
    active = await client.list_flows(FlowStatus.ACTIVE)
    assert waiting in {flow.id for flow in active}
    assert all(flow.status is FlowStatus.ACTIVE for flow in active)
    completed = await client.list_flows("completed")
    assert done in {flow.id for flow in completed}
    assert all(flow.completed_at is not None for flow in completed)
    assert len(await client.list_flows(limit=1)) == 1
    with pytest.raises(ValidationError) as refused:
        await client.list_flows(limit=0)
    assert [field for field, _ in refused.value.problems] == ["limit"]


async def test_waiting_is_bounded_and_a_webhook_result_ends_the_flow(
    client: Any, acks: StepService
) -> None:
    flow_id, step_id, token = await waiting_flow(client, acks)
    with pytest.raises(TimeoutError):
        await client.wait_flow(flow_id, timeout=0.2)
    await client.complete_work(flow_id, step_id, token, Succeeded({"approved": True}))
    state = await client.wait_flow(flow_id, timeout=10)
    assert state.status is FlowStatus.COMPLETED
    assert state.attributes["approved"].value is True
    await client.complete_work(flow_id, step_id, token, Failed("too late"))  # a repeat: ignored
    assert (await client.get_flow(flow_id)).status is FlowStatus.COMPLETED


async def test_a_failure_posted_to_the_webhook_fails_the_flow(
    client: Any, acks: StepService
) -> None:
    flow_id, step_id, token = await waiting_flow(client, acks)
    await client.complete_work(flow_id, step_id, token, Failed("no budget"))
    state = await client.wait_flow(flow_id, timeout=10)
    assert state.status is FlowStatus.FAILED
    assert state.executions[step_id].error == "no budget"


async def test_a_webhook_for_an_unknown_work_item_is_not_found(
    client: Any, acks: StepService
) -> None:
    flow_id, step_id, _ = await waiting_flow(client, acks)
    with pytest.raises(NotFoundError) as missing:
        await client.complete_work(flow_id, step_id, "no-such-token", Succeeded({}))
    assert missing.value.kind == "work item"
    assert missing.value.ident == f"{flow_id}/{step_id}/no-such-token"


def test_flow_state_json_parses_back_to_the_same_state(server_url: str) -> None:
    with Client(server_url) as client:
        client.register_step(HELLO)
        state = client.wait_flow(client.start_flow("hello", {"name": "Di"}), timeout=10)
    assert flow_state_from_dict(state.to_dict()) == state


# -------------------------------------------------------------------- streams


async def test_a_flow_stream_sends_the_past_then_live_events(
    server_url: str, acks: StepService
) -> None:
    async with AsyncClient(server_url) as client:
        flow_id, step_id, token = await waiting_flow(client, acks)
        seen: list[dict[str, Any]] = []
        async with client.stream(flow_id) as events:
            async for event in events:
                seen.append(event)
                if event["type"] == "work_started" and event["data"]["step_id"] == step_id:
                    await client.complete_work(flow_id, step_id, token, Succeeded({}))
                if event["type"] == "flow_completed":
                    break
        assert seen == through_end(await client.flow_events(flow_id))


async def test_a_stream_opened_before_the_flow_waits_for_it(server_url: str) -> None:
    async with AsyncClient(server_url) as client:
        await client.register_step(HELLO)
        flow_id = unique("later")
        async with client.stream(flow_id) as events:
            await client.start_flow(["hello"], {"name": "Ed"}, flow_id)
            types = [event["type"] async for event in _until_ended(events)]
        assert types[0] == "flow_started" and types[-1] == "flow_completed"  # the stream ends


async def test_the_stream_of_every_event_sees_new_flows(server_url: str) -> None:
    async with AsyncClient(server_url) as client:
        await client.register_step(HELLO)
        async with client.stream() as events:
            flow_id = await client.start_flow(["hello"], {"name": "Flo"})
            async with asyncio.timeout(10):
                async for event in events:
                    if event["type"] == "flow_completed" and event["data"]["flow_id"] == flow_id:
                        break


async def test_a_flow_stream_ends_with_the_flow_and_equals_its_flow_events(
    server_url: str, acks: StepService
) -> None:
    async with AsyncClient(server_url) as client:
        flow_id, step_id, token = await waiting_flow(client, acks)
        async with asyncio.timeout(10):
            async with client.stream(flow_id=flow_id) as events:
                await client.complete_work(flow_id, step_id, token, Failed("no budget"))
                seen = [event async for event in events]
            assert seen == through_end(await client.flow_events(flow_id))
            assert seen[-1]["type"] == "flow_failed"
            replayed = [event async for event in client.stream(flow_id=flow_id)]
        assert replayed == seen


async def test_a_flow_stream_asked_to_stay_open_outlives_the_flow(server_url: str) -> None:
    async with AsyncClient(server_url) as client:
        await client.register_step(HELLO)
        flow_id = await client.start_flow(["hello"], {"name": "Gus"})
        await client.wait_flow(flow_id, timeout=10)
        async with client.stream(flow_id=flow_id, until_ended=False) as events:
            seen = [event async for event in _until_ended(events)]
            assert seen == await client.flow_events(flow_id)
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.3):
                    await anext(events)


async def test_a_refused_stream_raises_the_typed_error(server_url: str) -> None:
    async with AsyncClient(server_url) as client:
        with pytest.raises(ValidationError) as refused:
            async for _ in client.stream("not valid!"):
                pass
    assert [field for field, _ in refused.value.problems] == ["flow_id"]


async def _until_ended(events: Any) -> AsyncIterator[dict[str, Any]]:
    """A stream's events up to the flow's last one (its deactivation, after its end)."""
    async with asyncio.timeout(10):
        async for event in events:
            yield event
            if event["type"] == "flow_deactivated":
                return


def through_end(events: list[Any]) -> list[Any]:
    """A flow's events up to its end: where a stream that ends with the flow stops (the
    flow's deactivation comes after it)."""
    types = [event["type"] if isinstance(event, dict) else event.type for event in events]
    last = next(n for n, kind in enumerate(types) if kind in FLOW_ENDED)
    return events[: last + 1]


# ------------------------------------------------- in-process server behaviour


async def test_a_stream_that_falls_behind_reconnects_without_gaps_or_repeats(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    opened: list[str] = []
    open_socket = client_module._open_socket

    async def counting(url: str, *args: Any) -> Any:
        opened.append(url)
        return await open_socket(url, *args)

    monkeypatch.setattr(client_module, "_open_socket", counting)
    async with await serve_engine() as local:
        slow = await serve(local.engine, port=0, ws_queue_limit=1)
        chain = [
            script_step(
                f"c{i}", f"{{:a{i + 1} (+ a{i} 1)}}", requires=[f"a{i}"], outputs=[f"a{i + 1}"]
            )
            for i in range(6)
        ]
        try:
            async with AsyncClient(slow.url) as client:
                for definition in chain:
                    await client.register_step(definition)
                async with client.stream("burst") as events:
                    await client.start_flow(["c5"], {"a0": 0}, "burst")
                    seen = [event async for event in _until_ended(events)]
                everything = await client.events("burst")
        finally:
            await slow.aclose()
    assert [event["seq"] for event in seen] == [event.seq for event in through_end(everything)]
    assert len(opened) > 1, "the server never closed the slow stream: nothing was tested"


async def test_a_stream_ends_when_the_server_stops() -> None:
    async with (
        await serve_engine() as local,
        AsyncClient(local.url) as client,
        client.stream() as events,
    ):
        await local.server.aclose()
        async with asyncio.timeout(5):
            assert [event async for event in events] == []


async def test_closing_the_client_closes_its_streams() -> None:
    async with await serve_engine() as local:
        client = AsyncClient(local.url)
        async with client.stream() as events:
            await client.aclose()
            assert [event async for event in events] == []


class DownStore(MemoryEventStore):
    """A memory store that refuses every append."""

    async def append(self, aggregate: str, expected: int, events: Any, timestamp: Any) -> Any:
        raise StoreError("memory://: down for the test")


async def test_an_unavailable_store_raises_store_error() -> None:
    async with await serve_engine(DownStore()) as local, AsyncClient(local.url) as client:
        with pytest.raises(StoreError) as refused:
            await client.register_step(HELLO)
    assert "down for the test" in str(refused.value)


# ----------------------------------------------------------- error mapping


@pytest.mark.parametrize(
    ("status", "body", "kind", "message"),
    [
        (
            400,
            b'{"detail": "d", "problems": [{"field": "f", "reason": "r"}]}',
            ValidationError,
            "d",
        ),
        (400, b'{"detail": "d", "inputs": ["x"]}', MissingInputsError, "d"),
        (400, b'{"detail": "d", "goals": ["g"]}', UnknownGoalsError, "d"),
        (404, b'{"detail": "no resource at /x"}', NotFoundError, "no resource at /x"),
        (409, b'{"detail": "d"}', ConflictError, "d"),
        (503, b'{"detail": "d"}', StoreError, "d"),
        (500, b'{"title": "Internal"}', ArgyllError, "Internal"),
        (502, b"<html>bad gateway</html>", ArgyllError, "<html>bad gateway</html>"),
    ],
)
def test_each_status_maps_to_its_error_with_the_detail_as_message(
    status: int, body: bytes, kind: type[ArgyllError], message: str
) -> None:
    error = problem_error(status, body, "/x")
    assert type(error) is kind
    assert str(error) == message
