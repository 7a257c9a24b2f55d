"""Who may do what, over HTTP: every operation of the OpenAPI document against every scope."""

from __future__ import annotations

import json
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_support import HELLO, Api, problem, running_api
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.web import RequestHandler
from tornado.websocket import websocket_connect

from argyll import Engine
from argyll.access import PUBLIC, ROUTE_SCOPES, Scope, Token, entry_toml, token_sha256
from argyll.errors import ForbiddenError, UnauthorizedError
from argyll.server.app import make_app
from argyll.server.openapi import openapi_document
from argyll.server.tokens import TokenFile
from argyll.ui.feed import RemoteEngine
from argyll.wire import TOKEN_COOKIE

SECRETS = {"reader": "read-secret-1", "runner": "run-secret-2", "boss": "admin-secret-3"}
SCOPES = {"reader": Scope.READ, "runner": Scope.RUN, "boss": Scope.ADMIN}
RANK = [Scope.READ, Scope.RUN, Scope.ADMIN]
OPERATIONS = sorted(
    (method.upper(), template)
    for template, item in openapi_document()["paths"].items()
    for method in item
    if method in ("get", "put", "post", "delete", "patch")
)


def tokens_toml(names: list[str]) -> str:
    return "\n".join(
        entry_toml(Token(name, token_sha256(SECRETS[name]), frozenset({SCOPES[name]})))
        for name in names
    )


@pytest.fixture
def tokens_path(tmp_path: Path) -> Path:
    path = tmp_path / "tokens.toml"
    path.write_text(tokens_toml(list(SECRETS)))
    return path


@pytest.fixture
async def guarded(tokens_path: Path) -> AsyncIterator[Api]:
    async with running_api(tokens=TokenFile(tokens_path)) as served:
        yield served


def auth(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {SECRETS[name]}"}


def test_every_operation_of_the_document_has_an_explicit_scope() -> None:
    assert [op for op in OPERATIONS if op not in ROUTE_SCOPES] == []
    paths = openapi_document()["paths"]
    for method, template in OPERATIONS:
        stated = paths[template][method.lower()].get("x-argyll-scope")
        needed = ROUTE_SCOPES[(method, template)]
        assert stated == (None if needed is PUBLIC else needed.value), (method, template)


def test_every_route_the_server_answers_has_an_explicit_scope() -> None:
    app = make_app(Engine("memory://"))
    for cls, template in app.settings["argyll_routes"].items():
        for method in ("get", "put", "post", "delete", "patch"):
            if getattr(cls, method) is not getattr(RequestHandler, method):
                assert (method.upper(), template) in ROUTE_SCOPES, (method, template)


def _filled(template: str) -> str:
    return re.sub(r"\{\w+\}", "nothing-here", template)


async def _call(api: Api, method: str, template: str, headers: dict[str, str]) -> httpx.Response:
    body = None if method in ("GET", "DELETE") else b"{}"
    return await api.client.request(method, _filled(template), content=body, headers=headers)


@pytest.mark.parametrize(("method", "template"), OPERATIONS)
async def test_each_operation_against_each_scope(guarded: Api, method: str, template: str) -> None:
    needed = ROUTE_SCOPES[(method, template)]
    nobody = await _call(guarded, method, template, {})
    stranger = await _call(guarded, method, template, {"Authorization": "Bearer not-a-token"})
    if needed is PUBLIC:
        assert nobody.status_code not in (401, 403)
        assert stranger.status_code not in (401, 403)
    else:
        assert problem(nobody, 401)["type"] == "urn:argyll:problem:unauthorized"
        assert nobody.headers["www-authenticate"].startswith("Bearer")
        assert problem(stranger, 401) == problem(nobody, 401)
    for name, held in SCOPES.items():
        answer = await _call(guarded, method, template, auth(name))
        allowed = needed is PUBLIC or RANK.index(held) >= RANK.index(needed)
        if allowed:
            assert answer.status_code not in (401, 403), (name, answer.text)
        else:
            body = problem(answer, 403)
            assert body["scope"] == needed
            assert "nothing-here" not in answer.text


async def test_403_comes_before_404_and_409(guarded: Api) -> None:
    await guarded.engine.register_step(HELLO)
    taken = await guarded.client.post("/engine/step", json=HELLO, headers=auth("runner"))
    assert problem(taken, 403)["detail"] == "this call needs a token with the 'admin' scope"
    missing = await guarded.client.post("/engine/flow/nope/cancel", headers=auth("reader"))
    problem(missing, 403)
    assert (
        await guarded.client.post("/engine/flow/nope/cancel", headers=auth("runner"))
    ).status_code == 404


async def test_401_bodies_give_nothing_away(guarded: Api) -> None:
    for headers in ({}, {"Authorization": "Bearer admin-secret-"}, {"Authorization": "Basic x"}):
        body = problem(await guarded.client.get("/engine/flow/x", headers=headers), 401)
        assert body == {
            "type": "urn:argyll:problem:unauthorized",
            "title": "Unauthorized",
            "status": 401,
            "detail": "this call needs a valid token",
        }


async def test_health_without_a_token_says_only_its_status(guarded: Api) -> None:
    assert (await guarded.client.get("/health")).json() == {"status": "ok"}
    full = (await guarded.client.get("/health", headers=auth("reader"))).json()
    assert full["service"] == "argyll" and full["status"] == "ok" and "store" in full


async def test_events_name_the_token_that_caused_them(guarded: Api) -> None:
    client = guarded.client
    assert (await client.post("/engine/step", json=HELLO, headers=auth("boss"))).status_code == 201
    started = {"id": "f1", "goals": ["hello"], "init": {"name": "Ada"}}
    assert (
        await client.post("/engine/flow", json=started, headers=auth("runner"))
    ).status_code == 201
    await guarded.engine.wait_flow("f1", timeout=10)
    events = (await client.get("/engine/flow/f1/events", headers=auth("reader"))).json()["events"]
    assert events[0]["type"] == "flow_started" and events[0]["data"]["actor"] == "runner"
    catalog = await guarded.engine.store.read("catalog")
    assert (
        catalog[-1].type == "step_registered" and catalog[-1].to_dict()["data"]["actor"] == "boss"
    )


def rewrite(path: Path, text: str) -> None:
    """Write ``path`` anew with a later modification time (however coarse the clock)."""
    before = path.stat().st_mtime_ns
    path.write_text(text)
    os.utime(path, ns=(before + 1_000_000, before + 1_000_000))


async def test_the_tokens_file_is_read_again_when_it_changes(
    guarded: Api, tokens_path: Path
) -> None:
    assert (await guarded.client.get("/engine", headers=auth("reader"))).status_code == 200
    rewrite(tokens_path, tokens_toml(["runner", "boss"]))
    problem(await guarded.client.get("/engine", headers=auth("reader")), 401)
    assert (await guarded.client.get("/engine", headers=auth("runner"))).status_code == 200
    rewrite(tokens_path, "[[tokens]]\nname = 1\n")
    problem(await guarded.client.get("/engine", headers=auth("runner")), 401)


async def test_a_json_tokens_file_works_the_same(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    entry = {"name": "ci", "token_sha256": token_sha256("ci-secret"), "scopes": ["run"]}
    path.write_text(json.dumps([entry]))
    async with running_api(tokens=TokenFile(path)) as served:
        ok = await served.client.get("/engine/flow", headers={"Authorization": "Bearer ci-secret"})
        assert ok.status_code == 200


def _ws_url(api: Api, query: str = "") -> str:
    return api.url.replace("http://", "ws://") + "/engine/ws" + query


async def test_the_websocket_refuses_without_a_token_at_the_handshake(guarded: Api) -> None:
    for url in (_ws_url(guarded), _ws_url(guarded, "?token=wrong")):
        with pytest.raises(HTTPClientError) as refused:
            await websocket_connect(url, connect_timeout=5)
        assert refused.value.code == 401
        assert refused.value.response is not None
        assert json.loads(refused.value.response.body)["status"] == 401


async def test_the_websocket_takes_a_bearer_header_a_query_or_the_cookie(guarded: Api) -> None:
    secret = SECRETS["reader"]
    requests = [
        (_ws_url(guarded), {"Authorization": f"Bearer {secret}"}),
        (_ws_url(guarded, f"?token={secret}"), {}),
        (_ws_url(guarded), {"Cookie": f"{TOKEN_COOKIE}={secret}"}),
    ]
    for url, headers in requests:
        request = HTTPRequest(url, headers=headers, connect_timeout=5)
        connection = await websocket_connect(request)
        connection.close()


def _operations_needing(scope: Any) -> list[tuple[str, str]]:
    return [op for op in OPERATIONS if ROUTE_SCOPES[op] == scope]


def test_the_table_says_what_the_scopes_allow() -> None:
    assert _operations_needing(PUBLIC) == [
        ("GET", "/"),
        ("GET", "/health"),
        ("POST", "/webhook/{flow_id}/{step_id}/{token}"),
    ]
    assert ("POST", "/engine/plan") in _operations_needing(Scope.READ)
    assert {path.rsplit("/", 1)[-1] for _, path in _operations_needing(Scope.RUN)} == {
        "flow",
        "cancel",
        "pause",
        "resume",
        "retry",
        "complete",
        "skip",
    }
    assert {path for _, path in _operations_needing(Scope.ADMIN)} == {
        "/engine/step",
        "/engine/step/{step_id}",
    }


async def test_the_dashboards_remote_engine_sends_its_token(guarded: Api) -> None:
    await guarded.engine.register_step(HELLO)
    anonymous = RemoteEngine(guarded.url)
    with pytest.raises(UnauthorizedError):
        await anonymous.start()
    await anonymous.aclose()
    remote = RemoteEngine(guarded.url, token=SECRETS["runner"])
    await remote.start()
    try:
        assert "hello" in remote.catalog.steps
        flow_id = await remote.start_flow(["hello"], {"name": "Ada"})
        events = await remote.flow_events(flow_id)
        assert events[0]["data"]["actor"] == "runner"
        with pytest.raises(ForbiddenError):
            await remote.unregister_step("hello")
    finally:
        await remote.aclose()
