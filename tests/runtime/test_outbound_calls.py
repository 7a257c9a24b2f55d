"""The outbound policy at registration and at call time, over real loopback HTTP.

``localhost`` resolves to 127.0.0.1: with only 10.0.0.0/8 allowed it stands for a
name that passes every name check and resolves into a forbidden range.
"""

import contextlib

import pytest
import tornado.httpserver
import tornado.netutil
import tornado.web

from argyll import Engine
from argyll.errors import ValidationError
from argyll.model import FlowStatus, HealthStatus
from argyll.outbound import parse_policy
from argyll.testing import StepService


def http_step(step_id, endpoint, health_check=None):
    http = {"endpoint": endpoint, "timeout": 2000}
    if health_check:
        http["health_check"] = health_check
    return {
        "id": step_id,
        "type": "sync",
        "attributes": {"y": {"role": "output"}},
        "http": http,
        "work_config": {"max_retries": 3, "init_backoff": 10, "backoff_type": "fixed"},
    }


def local(url: str) -> str:
    return url.replace("127.0.0.1", "localhost")


async def run_one(engine, step):
    await engine.register_step(step)
    return await engine.wait_flow(await engine.start_flow([step["id"]]), timeout=10)


async def test_a_name_resolving_outside_the_networks_fails_for_good_without_a_call():
    async with (
        StepService(lambda call: (200, {"y": 1})) as svc,
        Engine("memory://", outbound=parse_policy(["10.0.0.0/8"])) as engine,
    ):
        state = await run_one(engine, http_step("s", local(svc.url) + "/run"))
        events = await engine.flow_events(state.id)
    assert svc.calls == []
    assert state.status is FlowStatus.FAILED
    error = state.executions["s"].error
    assert "localhost resolves to 127.0.0.1" in error and "outbound policy" in error
    assert [e["type"] for e in events].count("work_not_completed") == 0


async def test_a_name_resolving_inside_the_networks_is_called():
    async with (
        StepService(lambda call: (200, {"y": 1})) as svc,
        Engine("memory://", outbound=parse_policy(["localhost", "127.0.0.0/8"])) as engine,
    ):
        state = await run_one(engine, http_step("s", local(svc.url) + "/run"))
    assert state.status is FlowStatus.COMPLETED
    assert len(svc.calls) == 1


async def test_a_host_filled_in_at_call_time_is_checked_again():
    async with (
        StepService(lambda call: (200, {"y": 1})) as svc,
        Engine("memory://", outbound=parse_policy(["127.0.0.0/8"])) as engine,
    ):
        step = http_step("s", svc.url.replace("127.0.0.1", "{host}") + "/run")
        step["attributes"]["host"] = {"role": "required"}
        await engine.register_step(step)
        flow_id = await engine.start_flow(["s"], {"host": "10.9.9.9"})
        state = await engine.wait_flow(flow_id, timeout=10)
    assert state.status is FlowStatus.FAILED
    assert "host '10.9.9.9' is not allowed" in state.executions["s"].error


async def test_registration_outside_the_policy_is_refused_naming_the_field():
    async with Engine("memory://", outbound=parse_policy(["*.svc.local", "10.0.0.0/8"])) as engine:
        with pytest.raises(ValidationError) as refused:
            await engine.register_step(
                http_step("s", "http://evil.example/run", "http://127.0.0.1/health")
            )
        assert [field for field, _ in refused.value.problems] == [
            "http.endpoint",
            "http.health_check",
        ]
        await engine.register_step(http_step("ok", "http://a.b.svc.local/run"))
        with pytest.raises(ValidationError):
            await engine.register_step(http_step("bare", "http://svc.local/run"))
        assert set(engine.catalog.steps) == {"ok"}


async def test_health_checks_obey_the_policy():
    async with (
        StepService(lambda call: (200, {})) as svc,
        Engine("memory://", outbound=parse_policy(["10.0.0.0/8"])) as engine,
    ):
        await engine.register_step(
            http_step("s", "http://10.0.0.1/run", health_check=local(svc.url) + "/health")
        )
        await engine.check_health()
        health = engine.catalog.health["s"]
    assert svc.calls == []
    assert health.status is HealthStatus.UNHEALTHY
    assert "outside the outbound policy" in health.error


@contextlib.asynccontextmanager
async def redirecting_to(target: str):
    """A loopback server answering every request with a 302 to ``target``."""

    class Redirect(tornado.web.RequestHandler):
        def post(self) -> None:
            self.redirect(target, status=302)

    (sock,) = tornado.netutil.bind_sockets(0, "127.0.0.1")
    server = tornado.httpserver.HTTPServer(tornado.web.Application([(r"/.*", Redirect)]))
    server.add_sockets([sock])
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.stop()
        await server.close_all_connections()


async def test_redirects_are_not_followed():
    async with (
        StepService(lambda call: (200, {"y": "from the redirect"})) as target,
        redirecting_to(target.url + "/run") as url,
        Engine("memory://") as engine,
    ):
        state = await run_one(engine, http_step("s", url + "/run"))
    assert state.status is FlowStatus.FAILED
    assert state.executions["s"].error.startswith("HTTP 302")
    assert target.calls == []


async def test_a_step_registered_before_the_policy_is_held_to_it(tmp_path):
    store = f"sqlite:///{tmp_path / 'argyll.db'}"
    async with StepService(lambda call: (200, {"y": 1})) as svc:
        async with Engine(store) as engine:
            await engine.register_step(http_step("s", svc.url + "/run"))
        async with Engine(store, outbound=parse_policy(["*.svc.local"])) as engine:
            state = await engine.wait_flow(await engine.start_flow(["s"]), timeout=10)
    assert svc.calls == []
    assert state.status is FlowStatus.FAILED
    assert "host '127.0.0.1' is not allowed" in state.executions["s"].error
