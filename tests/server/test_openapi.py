"""Schemathesis against /engine/openapi.json of a live server: no 5xx, every reply as documented.

The bodies the model validates are checked to be, field for field, the ones the
document describes (the document embeds the model's schema; this keeps it so).

The server runs on its own event loop in a thread, because schemathesis calls
it synchronously. Generated requests rarely name a real step or flow, so a
second test sends the documented operations with ids the server does hold.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from server_support import HELLO, running_api

from argyll.model import schema as model_schema
from argyll.server.openapi import openapi_document

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
SEEDED_FLOW = "seeded"


async def _serve_until(stop: asyncio.Event, urls: queue.Queue[Any]) -> None:
    async with running_api() as api:
        await api.client.post("/engine/step", json=HELLO)
        request = {"id": SEEDED_FLOW, "goals": ["hello"], "init": {"name": "Ann"}}
        await api.client.post("/engine/flow", json=request)
        await api.wait_flow(SEEDED_FLOW)
        urls.put((api.url, asyncio.get_running_loop()))
        await stop.wait()


@pytest.fixture(scope="module")
def live_url() -> Iterator[str]:
    """A served engine (a step and a completed flow in it) on its own loop in a thread."""
    stop = asyncio.Event()
    urls: queue.Queue[Any] = queue.Queue()
    thread = threading.Thread(target=asyncio.run, args=(_serve_until(stop, urls),), daemon=True)
    thread.start()
    url, loop = urls.get(timeout=20)
    yield url
    loop.call_soon_threadsafe(stop.set)
    thread.join(timeout=20)


@pytest.fixture(scope="module")
def api_schema(live_url: str) -> Any:
    return schemathesis.openapi.from_url(f"{live_url}/engine/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_conforms(case: Any, live_url: str) -> None:
    case.call_and_validate(base_url=live_url, checks=CHECKS)


SEEDED = [
    ("/", "GET", {}),
    ("/metrics", "GET", {}),
    ("/engine/step/{step_id}", "GET", {"step_id": "hello"}),
    ("/engine/health/{step_id}", "GET", {"step_id": "hello"}),
    ("/engine/flow/{flow_id}", "GET", {"flow_id": SEEDED_FLOW}),
    ("/engine/flow/{flow_id}/status", "GET", {"flow_id": SEEDED_FLOW}),
    ("/engine/flow/{flow_id}/events", "GET", {"flow_id": SEEDED_FLOW}),
    ("/engine/flow/{flow_id}/explain", "GET", {"flow_id": SEEDED_FLOW}),
    ("/engine/events", "GET", {}),
    ("/engine/catalog/events", "GET", {}),
]


def test_replies_about_real_resources_conform(api_schema: Any, live_url: str) -> None:
    for path, method, parameters in SEEDED:
        case = api_schema[path][method].Case(path_parameters=parameters)
        response = case.call_and_validate(base_url=live_url, checks=CHECKS)
        assert response.status_code == 200, (path, response.text)
    plan = api_schema["/engine/plan"]["POST"].Case(body={"goals": ["hello"]})
    assert plan.call_and_validate(base_url=live_url, checks=CHECKS).status_code == 200


def test_served_document_is_the_package_one(live_url: str) -> None:
    assert httpx.get(f"{live_url}/engine/openapi.json").json() == openapi_document()


def test_document_describes_every_route() -> None:
    paths = openapi_document()["paths"]
    assert set(paths) == {
        "/",
        "/health",
        "/metrics",
        "/engine",
        "/engine/openapi.json",
        "/engine/step",
        "/engine/step/{step_id}",
        "/engine/health",
        "/engine/health/{step_id}",
        "/engine/plan",
        "/engine/flow",
        "/engine/flow/query",
        "/engine/flow/{flow_id}",
        "/engine/flow/{flow_id}/status",
        "/engine/flow/{flow_id}/events",
        "/engine/flow/{flow_id}/cancel",
        "/engine/flow/{flow_id}/pause",
        "/engine/flow/{flow_id}/resume",
        "/engine/flow/{flow_id}/retry",
        "/engine/flow/{flow_id}/explain",
        "/engine/flow/{flow_id}/step/{step_id}/complete",
        "/engine/flow/{flow_id}/step/{step_id}/skip",
        "/webhook/{flow_id}/{step_id}/{token}",
        "/engine/ws",
        "/engine/events",
        "/engine/catalog/events",
    }
    for path, item in paths.items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            assert "500" in operation["responses"], (path, method)
            if "requestBody" in operation:
                assert {"400", "413"} <= operation["responses"].keys(), (path, method)


def inlined(node: Any, definitions: dict[str, Any]) -> Any:
    """A schema with every ``$ref`` replaced by what it points to (the shapes are not recursive)."""
    if isinstance(node, list):
        return [inlined(item, definitions) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return inlined(definitions[node["$ref"].rsplit("/", 1)[1]], definitions)
    return {key: inlined(value, definitions) for key, value in node.items()}


def property_paths(node: Any, prefix: str = "") -> set[str]:
    """Every property path an inlined schema declares (map values are ``*``)."""
    if isinstance(node, list):
        return set().union(*(property_paths(item, prefix) for item in node))
    if not isinstance(node, dict):
        return set()
    paths = set()
    for name, sub in node.get("properties", {}).items():
        paths |= {prefix + name} | property_paths(sub, f"{prefix}{name}.")
    for key in ("allOf", "oneOf", "anyOf"):
        paths |= property_paths(node.get(key, []), prefix)
    if isinstance(node.get("additionalProperties"), dict):
        paths |= {prefix + "*"} | property_paths(node["additionalProperties"], f"{prefix}*.")
    return paths


MODEL_SHAPES = [
    ("/engine/step", "post", "requestBody", model_schema.NEW_STEP_DEFINITION),
    ("/engine/step/{step_id}", "put", "requestBody", model_schema.STEP_DEFINITION),
    ("/engine/plan", "post", "requestBody", model_schema.PLAN_REQUEST),
    ("/engine/flow", "post", "requestBody", model_schema.FLOW_REQUEST),
    ("/engine/flow/{flow_id}/retry", "post", "requestBody", model_schema.RETRY_REQUEST),
    ("/engine/flow/{flow_id}/cancel", "post", "requestBody", model_schema.ACTION_REQUEST),
    (
        "/engine/flow/{flow_id}/step/{step_id}/complete",
        "post",
        "requestBody",
        model_schema.COMPLETE_REQUEST,
    ),
    ("/engine/step/{step_id}", "get", "200", model_schema.STEP),
]


@pytest.mark.parametrize(("path", "method", "part", "shape"), MODEL_SHAPES)
def test_bodies_are_the_models_schema_field_for_field(
    path: str, method: str, part: str, shape: str
) -> None:
    """A field added to the model's schema and not to the document, or the reverse, fails here."""
    document = openapi_document()
    operation = document["paths"][path][method]
    described = operation["requestBody"] if part == "requestBody" else operation["responses"][part]
    served = inlined(
        described["content"]["application/json"]["schema"], document["components"]["schemas"]
    )
    model_document = model_schema.document(shape)
    model = inlined({"$ref": model_document["$ref"]}, model_document["$defs"])
    assert property_paths(served) == property_paths(model)
    assert served == model
