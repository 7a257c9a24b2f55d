"""One table between argyll's errors and RFC 9457 problem details, read by both ends of the wire.

Each ``ProblemType`` row ties a ``urn:argyll:problem:*`` type to one error
class, its HTTP status and title, and the structured fields its body carries
(``problems``, ``inputs``, ``goals``, ``kind``/``ident``, ``size``/``limit``).
``problem_body`` writes the body the server answers for an error;
``error_from_problem`` turns a body back into the same class with the same
fields, so the client and the dashboard raise what the engine raised and never
parse the ``detail`` prose. A body from elsewhere (no argyll type: a proxy,
a step, an older server) is matched by status, then by the fields it has.

An error with no row of its own (an ``ArgyllError`` subclass that should not
reach a client, or any other exception) is ``internal``: 500, and a detail that
says nothing about the internals. Pure: standard library only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from argyll.errors import (
    ArgyllError,
    BodyTooLargeError,
    ConflictError,
    ForbiddenError,
    MissingInputsError,
    NotFoundError,
    StartingError,
    StoreError,
    UnauthorizedError,
    UnknownGoalsError,
    ValidationError,
)

TYPE_PREFIX = "urn:argyll:problem:"
UNTYPED = "about:blank"
"""The type of a problem that is only its HTTP status (RFC 9457's default)."""
INTERNAL_DETAIL = "the server failed to handle this request; the error is in its log"

Body = Mapping[str, Any]
Fields = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ProblemType:
    """One row: an error class and the problem+json body that stands for it.

    ``fields`` names the structured fields this row adds to its body (a subclass's
    body also carries its base class's); ``write`` takes them from an error, ``read``
    rebuilds the error from a body, given its detail and the path it answered.
    """

    name: str
    error: type[BaseException]
    status: int
    title: str
    fields: tuple[str, ...]
    write: Callable[[Any], Fields]
    read: Callable[[Body, str, str], ArgyllError]

    @property
    def uri(self) -> str:
        return TYPE_PREFIX + self.name


# ------------------------------------------------------------------ fields


def _nothing(_: BaseException) -> Fields:
    return {}


def _validation_fields(error: ValidationError) -> Fields:
    return {"problems": [{"field": field, "reason": reason} for field, reason in error.problems]}


def _missing_inputs_fields(error: MissingInputsError) -> Fields:
    return {**_validation_fields(error), "inputs": list(error.inputs)}


def _unknown_goals_fields(error: UnknownGoalsError) -> Fields:
    return {**_validation_fields(error), "goals": list(error.goals)}


def _not_found_fields(error: NotFoundError) -> Fields:
    return {"kind": error.kind, "ident": error.ident}


def _body_too_large_fields(error: BodyTooLargeError) -> Fields:
    return {"size": error.size, "limit": error.limit}


def _forbidden_fields(error: ForbiddenError) -> Fields:
    return {"scope": error.scope}


def _retry_after_fields(error: StartingError) -> Fields:
    return {"retry_after": error.retry_after}


def _read_starting(body: Body, detail: str, where: str) -> ArgyllError:
    seconds = body.get("retry_after")
    return StartingError(seconds if isinstance(seconds, int) else 1)


def _read_forbidden(body: Body, detail: str, where: str) -> ArgyllError:
    scope = body.get("scope")
    return ForbiddenError(scope if isinstance(scope, str) else "unknown")


def _strings(body: Body, key: str) -> list[str] | None:
    value = body.get(key)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    return None


def _read_validation(body: Body, detail: str, where: str) -> ArgyllError:
    listed = body.get("problems")
    items = listed if isinstance(listed, list) else []
    problems = [
        (item["field"], item["reason"])
        for item in items
        if isinstance(item, dict) and {"field", "reason"} <= item.keys()
    ]
    return ValidationError(problems or [("request", detail)])


def _read_missing_inputs(body: Body, detail: str, where: str) -> ArgyllError:
    inputs = _strings(body, "inputs")
    return _read_validation(body, detail, where) if inputs is None else MissingInputsError(inputs)


def _read_unknown_goals(body: Body, detail: str, where: str) -> ArgyllError:
    goals = _strings(body, "goals")
    return _read_validation(body, detail, where) if goals is None else UnknownGoalsError(goals)


def _read_not_found(body: Body, detail: str, where: str) -> ArgyllError:
    kind, ident = body.get("kind"), body.get("ident")
    if isinstance(kind, str) and isinstance(ident, str):
        return NotFoundError(kind, ident)
    return NotFoundError("resource", where)


def _read_message(error: Callable[[str], ArgyllError]) -> Callable[[Body, str, str], ArgyllError]:
    return lambda body, detail, where: error(detail)


# ------------------------------------------------------------------- table

INTERNAL = ProblemType(
    "internal", ArgyllError, 500, "Internal server error", (), _nothing, _read_message(ArgyllError)
)

PROBLEM_TYPES: tuple[ProblemType, ...] = (
    ProblemType(
        "missing-inputs",
        MissingInputsError,
        400,
        "Missing required inputs",
        ("inputs",),
        _missing_inputs_fields,
        _read_missing_inputs,
    ),
    ProblemType(
        "unknown-goals",
        UnknownGoalsError,
        400,
        "Unknown goals",
        ("goals",),
        _unknown_goals_fields,
        _read_unknown_goals,
    ),
    ProblemType(
        "validation",
        ValidationError,
        400,
        "Invalid request",
        ("problems",),
        _validation_fields,
        _read_validation,
    ),
    ProblemType(
        "unauthorized",
        UnauthorizedError,
        401,
        "Unauthorized",
        (),
        _nothing,
        _read_message(UnauthorizedError),
    ),
    ProblemType(
        "forbidden",
        ForbiddenError,
        403,
        "Forbidden",
        ("scope",),
        _forbidden_fields,
        _read_forbidden,
    ),
    ProblemType(
        "not-found",
        NotFoundError,
        404,
        "Not found",
        ("kind", "ident"),
        _not_found_fields,
        _read_not_found,
    ),
    ProblemType(
        "conflict", ConflictError, 409, "Conflict", (), _nothing, _read_message(ConflictError)
    ),
    ProblemType(
        "body-too-large",
        BodyTooLargeError,
        413,
        "Request body too large",
        ("size", "limit"),
        _body_too_large_fields,
        _read_message(ArgyllError),
    ),
    ProblemType(
        "engine-starting",
        StartingError,
        503,
        "Engine starting",
        ("retry_after",),
        _retry_after_fields,
        _read_starting,
    ),
    ProblemType(
        "store-unavailable",
        StoreError,
        503,
        "Event store unavailable",
        (),
        _nothing,
        _read_message(StoreError),
    ),
    INTERNAL,
)
"""Every row; within one status the most specific first (an untyped body is matched in order).

A body too large is the server refusing a request, not an engine error: a client
raises a plain ``ArgyllError`` for it (``size`` and ``limit`` are in the body).
"""

BY_TYPE: Mapping[str, ProblemType] = {row.uri: row for row in PROBLEM_TYPES}
_BY_CLASS: Mapping[type[BaseException], ProblemType] = {row.error: row for row in PROBLEM_TYPES}


# ------------------------------------------------------------------- write


def problem_type_of(error: BaseException) -> ProblemType:
    """The row of ``error``'s nearest class in the table; ``INTERNAL`` when none has one."""
    for cls in type(error).__mro__:
        row = _BY_CLASS.get(cls)
        if row is not None:
            return row
    return INTERNAL


def problem_body(error: BaseException) -> dict[str, Any]:
    """The problem details answering ``error``; an internal error's detail gives nothing away."""
    row = problem_type_of(error)
    detail = INTERNAL_DETAIL if row is INTERNAL else str(error)
    fields = {} if row is INTERNAL else row.write(error)
    return {"type": row.uri, "title": row.title, "status": row.status, "detail": detail, **fields}


def status_problem(
    status: int, detail: str | None = None, title: str | None = None
) -> dict[str, Any]:
    """A problem with no argyll type (``about:blank``): a step's refusal, a bare HTTP status."""
    title = title or status_phrase(status)
    return {"type": UNTYPED, "title": title, "status": status, "detail": detail or title}


def status_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


# -------------------------------------------------------------------- read


def problem_text(body: Body) -> str | None:
    """What a problem says happened: its ``detail``, else its ``title``."""
    for key in ("detail", "title"):
        text = body.get(key)
        if isinstance(text, str) and text:
            return text
    return None


def error_from_problem(status: int, body: Body, where: str) -> ArgyllError:
    """The typed error a problem reply stands for; its message is the problem's detail.

    Args:
        status: the reply's HTTP status.
        body: the problem details (any JSON object; unknown keys are ignored).
        where: the path or URL that answered (names the resource of an untyped 404).
    """
    detail = problem_text(body) or f"HTTP {status} from {where}"
    row = BY_TYPE.get(str(body.get("type"))) or _row_for_status(status, body)
    error = ArgyllError(detail) if row is None else row.read(body, detail, where)
    error.args = (detail,)
    return error


def _row_for_status(status: int, body: Body) -> ProblemType | None:
    """For a body without an argyll type: the first row of the status whose fields it has."""
    rows = [row for row in PROBLEM_TYPES if row.status == status]
    for row in rows:
        if row.fields and all(name in body for name in row.fields):
            return row
    return rows[-1] if rows else None
