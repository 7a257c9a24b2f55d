"""The one table between errors and problem details: each error survives the wire whole."""

from __future__ import annotations

from typing import Any

import pytest

from argyll.errors import (
    ArgyllError,
    BodyTooLargeError,
    ConflictError,
    ForbiddenError,
    MissingInputsError,
    NotFoundError,
    ScriptError,
    StartingError,
    StoreError,
    UnauthorizedError,
    UnknownGoalsError,
    ValidationError,
    VersionConflict,
)
from argyll.problems import (
    BY_TYPE,
    INTERNAL,
    INTERNAL_DETAIL,
    PROBLEM_TYPES,
    TYPE_PREFIX,
    error_from_problem,
    problem_body,
    status_problem,
)

FIELDS = ("problems", "inputs", "goals", "kind", "ident", "scope", "retry_after")


def fields(error: BaseException) -> dict[str, Any]:
    return {name: getattr(error, name) for name in FIELDS if hasattr(error, name)}


@pytest.mark.parametrize(
    "error",
    [
        ValidationError([("id", "bad"), ("type", "missing")]),
        MissingInputsError(["a", "b"]),
        UnknownGoalsError(["x", "y"]),
        NotFoundError("step", "s"),
        NotFoundError("work item", "f/s/it's 'quoted' not found"),
        ConflictError("step 'a' is already registered"),
        StoreError("redis://x: connection refused"),
        StartingError(1),
        UnauthorizedError(),
        ForbiddenError("run"),
    ],
)
def test_an_error_comes_back_as_its_class_with_its_fields(error: ArgyllError) -> None:
    body = problem_body(error)
    rebuilt = error_from_problem(body["status"], body, "/somewhere")
    assert type(rebuilt) is type(error)
    assert fields(rebuilt) == fields(error)
    assert str(rebuilt) == str(error) == body["detail"]


def test_the_fields_come_from_the_body_not_from_its_prose() -> None:
    body = {
        "type": TYPE_PREFIX + "not-found",
        "status": 404,
        "detail": "nothing here",
        "kind": "flow",
        "ident": "f-1",
    }
    error = error_from_problem(404, body, "/engine/flow/f-1")
    assert isinstance(error, NotFoundError)
    assert (error.kind, error.ident, str(error)) == ("flow", "f-1", "nothing here")


def test_each_type_is_one_row_with_one_status() -> None:
    assert len(BY_TYPE) == len(PROBLEM_TYPES)
    assert all(row.uri.startswith(TYPE_PREFIX) for row in PROBLEM_TYPES)
    assert {row.name: row.status for row in PROBLEM_TYPES} == {
        "missing-inputs": 400,
        "unknown-goals": 400,
        "validation": 400,
        "unauthorized": 401,
        "forbidden": 403,
        "not-found": 404,
        "conflict": 409,
        "body-too-large": 413,
        "engine-starting": 503,
        "store-unavailable": 503,
        "internal": 500,
    }


def test_a_subclass_without_a_row_answers_as_its_nearest_base() -> None:
    body = problem_body(VersionConflict("flow:f", 1, 2))
    assert (body["type"], body["status"]) == (TYPE_PREFIX + "conflict", 409)
    assert type(error_from_problem(409, body, "/x")) is ConflictError


@pytest.mark.parametrize(
    "error", [RuntimeError("secret internals"), ScriptError("secret"), ArgyllError("secret")]
)
def test_anything_else_is_internal_and_says_nothing(error: BaseException) -> None:
    body = problem_body(error)
    assert (body["type"], body["status"], body["detail"]) == (INTERNAL.uri, 500, INTERNAL_DETAIL)
    assert type(error_from_problem(500, body, "/x")) is ArgyllError


def test_a_body_too_large_carries_its_size_and_limit() -> None:
    body = problem_body(BodyTooLargeError(20, 10))
    assert (body["status"], body["size"], body["limit"]) == (413, 20, 10)
    assert "over the limit" in str(error_from_problem(413, body, "/x"))


def test_a_body_without_an_argyll_type_is_read_by_status_then_fields() -> None:
    untyped = status_problem(404, "no resource at /x")
    assert untyped == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "no resource at /x",
    }
    missing = error_from_problem(404, untyped, "/x")
    assert isinstance(missing, NotFoundError) and (missing.kind, missing.ident) == (
        "resource",
        "/x",
    )
    inputs = error_from_problem(400, {"inputs": ["q"], "title": "Bad"}, "/x")
    assert isinstance(inputs, MissingInputsError) and inputs.inputs == ["q"]
    assert str(inputs) == "Bad"
    plain = error_from_problem(400, {"detail": "no"}, "/x")
    assert type(plain) is ValidationError and plain.problems == [("request", "no")]
    assert str(error_from_problem(418, {}, "/x")) == "HTTP 418 from /x"


def test_malformed_fields_of_a_known_type_fall_back_to_its_base() -> None:
    body = {"type": TYPE_PREFIX + "missing-inputs", "detail": "d", "inputs": [1, 2]}
    error = error_from_problem(400, body, "/x")
    assert type(error) is ValidationError and str(error) == "d"
