"""The one error-to-status mapping, and the request parsers the handlers share."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from tornado.web import HTTPError

from argyll.decide import Failed, Succeeded
from argyll.errors import (
    ArgyllError,
    BodyTooLargeError,
    ConflictError,
    MissingInputsError,
    NotFoundError,
    StoreError,
    UnknownGoalsError,
    ValidationError,
    VersionConflict,
)
from argyll.flow_query import FlowQuery
from argyll.model import FlowStatus
from argyll.server.handlers import (
    parse_goals_and_init,
    parse_json_object,
    parse_listing,
    webhook_outcome,
)
from argyll.server.problem import problem_for


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (ValidationError([("id", "bad")]), 400),
        (MissingInputsError(["a", "b"]), 400),
        (UnknownGoalsError(["x"]), 400),
        (NotFoundError("step", "s"), 404),
        (ConflictError("taken"), 409),
        (VersionConflict("flow:f", 1, 2), 409),
        (BodyTooLargeError(20, 10), 413),
        (StoreError("down"), 503),
        (HTTPError(405), 405),
    ],
)
def test_each_error_class_has_one_status(error: BaseException, status: int) -> None:
    body = problem_for(error)
    assert body["status"] == status
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert all(isinstance(body[key], str) and body[key] for key in ("type", "title", "detail"))


def test_validation_problems_list_every_field() -> None:
    body = problem_for(ValidationError([("id", "bad"), ("type", "missing")]))
    assert body["problems"] == [
        {"field": "id", "reason": "bad"},
        {"field": "type", "reason": "missing"},
    ]


def test_missing_inputs_and_unknown_goals_are_named() -> None:
    assert problem_for(MissingInputsError(["a", "b"]))["inputs"] == ["a", "b"]
    assert problem_for(UnknownGoalsError(["x"]))["goals"] == ["x"]


def test_unexpected_errors_are_500_logged_and_not_leaked(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="argyll.server"):
        body = problem_for(RuntimeError("secret internals"))
        plain = problem_for(ArgyllError("engine not started"))
    assert body["status"] == plain["status"] == 500
    assert "secret" not in body["detail"]
    assert "secret internals" in caplog.text


@pytest.mark.parametrize("body", [b"", b"  ", b"{", b"[]", b"1", b"null", b'"x"', b"NaN"])
def test_only_json_objects_are_bodies(body: bytes) -> None:
    with pytest.raises(ValidationError) as refused:
        parse_json_object(body)
    assert refused.value.problems[0][0] == "body"


def test_deeply_nested_json_is_refused_not_crashed() -> None:
    with pytest.raises(ValidationError):
        parse_json_object(b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}")


def test_goals_and_init() -> None:
    assert parse_goals_and_init({"goals": "a"}) == (["a"], {})
    assert parse_goals_and_init({"goals": ["a", "b"], "init": {"x": 1}}) == (["a", "b"], {"x": 1})
    with pytest.raises(ValidationError) as refused:
        parse_goals_and_init({"goals": [], "init": [], "id": 3})
    assert [field for field, _ in refused.value.problems] == ["goals", "init", "id"]


def test_flow_listing_query() -> None:
    def arguments(**given: list[str]) -> Callable[[str], list[str]]:
        return lambda name: given.get(name, [])

    assert parse_listing(arguments()) == FlowQuery()
    listed = parse_listing(arguments(status=["failed,paused"], limit=["5"], goal=["g"]))
    assert listed == FlowQuery(
        statuses=frozenset({FlowStatus.FAILED, FlowStatus.PAUSED}), goals=("g",), limit=5
    )
    for name, value in (
        ("status", "x"),
        ("limit", "0"),
        ("limit", "+1"),
        ("limit", " 1"),
        ("limit", "1e3"),
        ("goal", ""),
        ("sort", "id"),
        ("cursor", "?"),
    ):
        with pytest.raises(ValidationError) as refused:
            parse_listing(arguments(**{name: [value]}))
        assert [field for field, _ in refused.value.problems] == [name]


def test_webhook_outcome_follows_the_content_type() -> None:
    assert webhook_outcome("application/json", {"a": 1}) == Succeeded({"a": 1})
    assert webhook_outcome("", {"a": 1}) == Succeeded({"a": 1})
    problem_type = "Application/Problem+JSON; charset=utf-8"
    assert webhook_outcome(problem_type, {"title": "T", "detail": "D"}) == Failed("D")
    assert webhook_outcome(problem_type, {"title": "T"}) == Failed("T")
    assert isinstance(webhook_outcome(problem_type, {}), Failed)
