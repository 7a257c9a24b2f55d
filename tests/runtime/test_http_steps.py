"""HTTP steps over real loopback HTTP: headers, bodies, placeholders, retries, health."""

import asyncio

import pytest

from argyll import Engine
from argyll.decide import Policy, Succeeded
from argyll.model import FlowStatus, HealthStatus, StepStatus
from argyll.testing import Call, StepService


def http_step(
    step_id,
    url,
    *,
    kind="sync",
    method="POST",
    requires=("x",),
    outputs=("y",),
    timeout=5000,
    work_config=None,
    health_check=None,
):
    attributes = {n: {"role": "required"} for n in requires}
    attributes.update({n: {"role": "output"} for n in outputs})
    http = {"endpoint": url, "method": method, "timeout": timeout}
    if health_check:
        http["health_check"] = health_check
    return {
        "id": step_id,
        "type": kind,
        "attributes": attributes,
        "http": http,
        "work_config": work_config
        or {"init_backoff": 10, "max_backoff": 50, "backoff_type": "fixed", "max_retries": 3},
    }


def types(events):
    return [e["type"] for e in events]


@pytest.fixture
async def engine():
    async with Engine("memory://", webhook_base_url="http://argyll.test:8080") as running:
        yield running


async def test_sync_step_gets_inputs_and_headers_and_returns_outputs(engine):
    async with StepService(lambda call: (200, {"y": call.body["x"] + 1})) as svc:
        await engine.register_step(http_step("inc", f"{svc.url}/inc"))
        flow_id = await engine.start_flow(["inc"], {"x": 41}, flow_id="f-sync")
        state = await engine.wait_flow(flow_id, timeout=10)
    assert state.attributes["y"].value == 42
    (call,) = svc.calls
    assert (call.method, call.path, call.body) == ("POST", "/inc", {"x": 41})
    assert call.headers["Argyll-Flow-Id"] == "f-sync"
    assert call.headers["Argyll-Step-Id"] == "inc"
    token = call.headers["Argyll-Receipt-Token"]
    assert token in state.executions["inc"].work_items
    assert "Argyll-Webhook-Url" not in call.headers


async def test_get_with_placeholders_sends_no_body(engine):
    async with StepService(lambda call: (200, {"y": call.path})) as svc:
        await engine.register_step(
            http_step("lookup", f"{svc.url}/users/{{x}}/orders", method="GET")
        )
        state = await engine.wait_flow(
            await engine.start_flow(["lookup"], {"x": "a b/c"}), timeout=10
        )
    assert state.attributes["y"].value == "/users/a%20b%2Fc/orders"
    assert svc.calls[0].method == "GET"
    assert svc.calls[0].body is None


async def test_async_step_waits_for_its_webhook(engine):
    called = asyncio.Event()

    def acknowledge(call: Call):
        called.set()
        return 202, {"accepted": True}

    async with StepService(acknowledge) as svc:
        await engine.register_step(http_step("pay", f"{svc.url}/pay", kind="async"))
        flow_id = await engine.start_flow(["pay"], {"x": 5}, flow_id="f-async")
        async with asyncio.timeout(10):
            await called.wait()
    (call,) = svc.calls
    token = call.headers["Argyll-Receipt-Token"]
    assert call.headers["Argyll-Webhook-Url"] == (
        f"http://argyll.test:8080/webhook/f-async/pay/{token}"
    )
    assert (await engine.get_flow(flow_id)).status is FlowStatus.ACTIVE
    await engine.complete_work(flow_id, "pay", token, Succeeded({"y": "paid"}))
    state = await engine.wait_flow(flow_id, timeout=10)
    assert state.attributes["y"].value == "paid"


async def test_5xx_then_200_is_retried_with_the_configured_backoff(engine):
    replies = iter([(503, {"detail": "busy"}), (500, None), (200, {"y": 1})])
    async with StepService(lambda call: next(replies)) as svc:
        await engine.register_step(http_step("flaky", svc.url))
        flow_id = await engine.start_flow(["flaky"], {"x": 1})
        state = await engine.wait_flow(flow_id, timeout=10)
    assert state.status is FlowStatus.COMPLETED
    assert len(svc.calls) == 3
    assert len({c.headers["Argyll-Receipt-Token"] for c in svc.calls}) == 1
    events = await engine.flow_events(flow_id)
    assert types(events).count("work_not_completed") == 2
    retries = [e["data"] for e in events if e["type"] == "work_retry_scheduled"]
    assert [r["retry_count"] for r in retries] == [1, 2]
    (item,) = state.executions["flaky"].work_items.values()
    assert item.retry_count == 2
    errors = [e["data"]["error"] for e in events if e["type"] == "work_not_completed"]
    assert errors[0] == "HTTP 503: busy"


async def test_4xx_fails_once_with_the_problem_detail(engine):
    problem = {"type": "about:blank", "title": "Bad", "status": 422, "detail": "x too small"}
    async with StepService(lambda call: (422, problem)) as svc:
        await engine.register_step(http_step("picky", svc.url))
        state = await engine.wait_flow(await engine.start_flow(["picky"], {"x": 1}), timeout=10)
    assert state.status is FlowStatus.FAILED
    assert len(svc.calls) == 1
    assert state.executions["picky"].error == "HTTP 422: x too small"


async def test_non_object_reply_fails_clearly(engine):
    async with StepService(lambda call: (200, [1, 2])) as svc:
        await engine.register_step(http_step("listy", svc.url))
        state = await engine.wait_flow(await engine.start_flow(["listy"], {"x": 1}), timeout=10)
    assert "not a JSON object" in state.executions["listy"].error


async def test_timeout_is_retried(engine):
    slow = asyncio.Event()

    async def answer(call: Call):
        if len(svc.calls) == 1:
            await slow.wait()
        return 200, {"y": "late but fine"}

    async with StepService(answer) as svc:
        await engine.register_step(http_step("slow", svc.url, timeout=100))
        state = await engine.wait_flow(await engine.start_flow(["slow"], {"x": 1}), timeout=10)
        slow.set()
    assert state.status is FlowStatus.COMPLETED
    events = await engine.flow_events(state.id)
    (error,) = [e["data"]["error"] for e in events if e["type"] == "work_not_completed"]
    assert error == "timed out after 100 ms"


async def test_retries_exhausted_fail_the_flow(engine):
    async with StepService(lambda call: (503, None)) as svc:
        await engine.register_step(
            http_step("down", svc.url, work_config={"max_retries": 2, "init_backoff": 5})
        )
        state = await engine.wait_flow(await engine.start_flow(["down"], {"x": 1}), timeout=10)
    assert len(svc.calls) == 3
    assert state.executions["down"].status is StepStatus.FAILED
    assert "gave up after 2 retries" in state.executions["down"].error


async def test_unreachable_service_is_not_completed_and_retried(engine):
    await engine.register_step(
        http_step("gone", "http://127.0.0.1:9/x", work_config={"max_retries": 1, "init_backoff": 1})
    )
    state = await engine.wait_flow(await engine.start_flow(["gone"], {"x": 1}), timeout=10)
    events = await engine.flow_events(state.id)
    assert types(events).count("work_not_completed") == 2
    assert state.status is FlowStatus.FAILED


FAST_RETRIES = {"init_backoff": 1, "max_backoff": 1, "backoff_type": "fixed"}
# max_retries 0 means the engine default (Policy().max_retries, 3): the reported case.
RETRY_LIMITS = [(0, "3 retries", 3), (1, "1 retry", 1), (2, "2 retries", 2)]


async def fail_for_good(engine, step_id, url, max_retries, **step):
    """Run a one-step flow that cannot succeed; its events, the step's error, attempts made."""
    work_config = {**FAST_RETRIES, "max_retries": max_retries}
    await engine.register_step(http_step(step_id, url, work_config=work_config, **step))
    state = await engine.wait_flow(await engine.start_flow([step_id], {"x": 1}), timeout=20)
    assert state.status is FlowStatus.FAILED
    events = await engine.flow_events(state.id)
    return state.executions[step_id].error, types(events).count("work_not_completed")


@pytest.mark.parametrize(("max_retries", "named", "retries"), RETRY_LIMITS)
async def test_refused_connection_names_the_refusal_and_the_retries_made(
    engine, max_retries, named, retries
):
    error, attempts = await fail_for_good(engine, "gone", "http://127.0.0.1:9/x", max_retries)
    assert error == f"connection refused by 127.0.0.1:9 (gave up after {named})"
    assert attempts == retries + 1


@pytest.mark.parametrize(("max_retries", "named", "retries"), RETRY_LIMITS)
async def test_timeout_names_its_limit_and_the_retries_made(engine, max_retries, named, retries):
    released = asyncio.Event()

    async def hang(call: Call):
        await released.wait()
        return 200, {"y": "too late"}

    async with StepService(hang) as svc:
        error, attempts = await fail_for_good(engine, "slow", svc.url, max_retries, timeout=50)
        released.set()
    assert error == f"timed out after 50 ms (gave up after {named})"
    assert attempts == len(svc.calls) == retries + 1


@pytest.mark.parametrize(("max_retries", "named", "retries"), RETRY_LIMITS)
async def test_5xx_names_the_status_and_the_retries_made(engine, max_retries, named, retries):
    async with StepService(lambda call: (503, {"detail": "busy"})) as svc:
        error, attempts = await fail_for_good(engine, "busy", svc.url, max_retries)
    assert error == f"HTTP 503: busy (gave up after {named})"
    assert attempts == len(svc.calls) == retries + 1


async def test_unknown_host_names_the_dns_failure(engine):
    error, _ = await fail_for_good(engine, "nowhere", "http://argyll-test.invalid/x", 1)
    assert error.startswith("DNS lookup failed for argyll-test.invalid: ")
    assert error.endswith(" (gave up after 1 retry)")


async def test_an_engine_policy_sets_the_default_retry_count():
    async with Engine("memory://", policy=Policy(max_retries=1)) as engine:
        error, attempts = await fail_for_good(engine, "gone", "http://127.0.0.1:9/x", 0)
    assert error == "connection refused by 127.0.0.1:9 (gave up after 1 retry)"
    assert attempts == 2


async def test_a_dropped_connection_is_not_called_a_timeout(engine):
    async def drop(reader, writer):
        await reader.read(1)
        writer.close()

    server = await asyncio.start_server(drop, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        error, _ = await fail_for_good(engine, "rude", f"http://127.0.0.1:{port}/x", 1)
    assert error.startswith(f"request to 127.0.0.1:{port} failed: ")
    assert "timed out" not in error, error


async def test_health_changes_are_recorded_only_when_they_change(engine):
    healthy = True
    async with StepService(lambda call: (200, {}) if healthy else (503, {"detail": "db"})) as svc:
        await engine.register_step(
            http_step("svc", f"{svc.url}/run", health_check=f"{svc.url}/health")
        )
        assert engine.catalog.health["svc"].status is HealthStatus.UNKNOWN
        for up in (True, True, False, False, True):
            healthy = up
            await engine.check_health()
    changes = [
        e.data for e in await engine.store.read("catalog") if e.type == "step_health_changed"
    ]
    assert [(c.status, c.error) for c in changes] == [
        ("healthy", None),
        ("unhealthy", "HTTP 503: db"),
        ("healthy", None),
    ]
    assert engine.catalog.health["svc"].status is HealthStatus.HEALTHY


async def test_health_monitor_probes_on_its_interval():
    async with (
        StepService(lambda call: (200, {})) as svc,
        Engine("memory://", health_interval=0.02) as engine,
    ):
        await engine.register_step(http_step("svc", svc.url, health_check=f"{svc.url}/h"))
        async with asyncio.timeout(5):
            async for event in engine.events(""):
                if event.type == "step_health_changed":
                    break
        assert engine.catalog.health["svc"].status is HealthStatus.HEALTHY
