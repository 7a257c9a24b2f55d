"""GET /metrics against a live server: the series move by exactly what the flows did."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from server_support import Api

from argyll import Engine
from argyll.runtime.metrics import Metrics
from argyll.testing import StepService, script_step, wait_until

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

OK = script_step("ok", "{:a 1}", outputs=["a"])
BAD = script_step("bad", "{:b (/ 1 0)}", outputs=["b"])


def flaky_step(url: str) -> dict:
    return {
        "id": "flaky",
        "type": "sync",
        "attributes": {"c": {"role": "output"}},
        "http": {"endpoint": url, "timeout": 5000},
        "work_config": {
            "init_backoff": 10,
            "max_backoff": 10,
            "backoff_type": "fixed",
            "max_retries": 2,
        },
    }


async def scrape(api: Api) -> Samples:
    response = await api.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def moved(before: Samples, after: Samples) -> Counter:
    """How much every sample grew (series absent before count from 0)."""
    return Counter({key: value - before.get(key, 0.0) for key, value in after.items()})


def sample(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return name, frozenset(labels.items())


async def test_counters_move_by_what_the_flows_did(api: Api) -> None:
    replies = iter([(503, {"detail": "busy"}), (200, {"c": 3})])
    async with StepService(lambda call: next(replies)) as service:
        for step in (OK, BAD, flaky_step(service.url)):
            assert (await api.client.post("/engine/step", json=step)).status_code == 201
        before = await scrape(api)
        flow_ids = []
        for goal in ("ok", "bad", "flaky"):
            started = await api.client.post("/engine/flow", json={"goals": [goal]})
            assert started.status_code == 201, started.text
            flow_ids.append(started.json()["flow_id"])
        for flow_id, status in zip(flow_ids, ("completed", "failed", "completed"), strict=True):
            await api.wait_flow(flow_id, status)
        assert (await api.client.get("/no/such/thing")).status_code == 404
        after = await scrape(api)

    delta = moved(before, after)
    assert delta[sample("argyll_flows_started_total")] == 3
    assert delta[sample("argyll_flows_ended_total", status="completed")] == 2
    assert delta[sample("argyll_flows_ended_total", status="failed")] == 1
    assert after[sample("argyll_flows_active")] == 0
    assert after[sample("argyll_flows_paused")] == 0
    work = "argyll_work_total"
    assert delta[sample(work, step="ok", outcome="succeeded")] == 1
    assert delta[sample(work, step="bad", outcome="failed")] == 1
    assert delta[sample(work, step="flaky", outcome="not_completed")] == 1
    assert delta[sample(work, step="flaky", outcome="succeeded")] == 1
    assert sum(v for k, v in delta.items() if k[0] == work) == 4
    durations = "argyll_work_duration_seconds_count"
    assert delta[sample(durations, step="ok")] == 1
    assert delta[sample(durations, step="bad")] == 1
    assert delta[sample(durations, step="flaky")] == 2
    assert delta[sample("argyll_store_append_seconds_count")] >= 3

    requests = "argyll_http_requests_total"
    assert delta[sample(requests, route="/engine/flow", method="POST", status="201")] == 3
    assert delta[sample(requests, route="/engine/flow/{flow_id}", method="GET", status="200")] == 3
    assert delta[sample(requests, route="unmatched", method="GET", status="404")] == 1
    assert delta[sample(requests, route="/metrics", method="GET", status="200")] == 1
    routes = {dict(labels)["route"] for name, labels in after if name == requests}
    assert "/engine/flow/{flow_id}/status" in routes
    assert not any(flow_id in route for route in routes for flow_id in flow_ids)


async def test_the_openapi_document_lists_metrics_as_text(api: Api) -> None:
    document = (await api.client.get("/engine/openapi.json")).json()
    content = document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(content) == ["text/plain"]


def test_each_engine_has_its_own_registry() -> None:
    first, second = Metrics(), Metrics()
    first.http_request("/metrics", "GET", 200)
    line = b'argyll_http_requests_total{method="GET",route="/metrics",status="200"} 1.0'
    assert line in first.render(0)
    assert b"argyll_http_requests_total{" not in second.render(0)


def test_latencies_fall_in_the_first_bucket_whose_bound_they_do_not_exceed() -> None:
    metrics = Metrics()
    for seconds in (0.001, 0.0011, 100.0):
        metrics.observe_append(seconds)
    text = metrics.render(0).decode()
    assert 'argyll_store_append_seconds_bucket{le="0.001"} 1.0' in text
    assert 'argyll_store_append_seconds_bucket{le="0.0025"} 2.0' in text
    assert 'argyll_store_append_seconds_bucket{le="30.0"} 2.0' in text
    assert 'argyll_store_append_seconds_bucket{le="+Inf"} 3.0' in text
    assert "argyll_store_append_seconds_count 3.0" in text


async def test_two_engines_on_one_store_count_only_what_each_appended(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    async with Engine(url) as first, Engine(url) as second:
        await first.register_step(OK)
        flow_id = await first.start_flow(["ok"])
        await first.wait_flow(flow_id, timeout=10)
        await first.register_step(BAD)
        # The feed is in order: once the second engine folded BAD, it has read the whole flow.
        await wait_until(lambda: "bad" in second.catalog.steps, "the second engine to follow")
        assert (first.metrics.flows_started, second.metrics.flows_started) == (1, 0)
        assert first.metrics.flows_ended["completed"] == 1
        assert second.metrics.flows_ended["completed"] == 0
        assert first.metrics.work == {("ok", "succeeded"): 1}
        assert second.metrics.work == {}
