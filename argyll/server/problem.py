"""RFC 9457 problem details: the one place where errors become HTTP statuses.

Every error response of the server is ``application/problem+json`` with at least
``type``, ``title``, ``status`` and ``detail``. Validation errors add
``problems`` (every ``{field, reason}`` found), missing inputs add ``inputs``
and unknown goals add ``goals``. Anything not in the table is a bug or an
outage: it is logged with its traceback and answered 500 with a generic detail,
so internals never leak to clients.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from tornado.web import HTTPError

from argyll.errors import (
    ArgyllError,
    ConflictError,
    MissingInputsError,
    NotFoundError,
    StoreError,
    UnknownGoalsError,
    ValidationError,
)

PROBLEM_CONTENT_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:argyll:problem:"

log = logging.getLogger("argyll.server")


class BodyTooLargeError(ArgyllError):
    """A request body over the server's limit (answered before the body is read)."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"the request body is {size} bytes, over the limit of {limit} bytes")
        self.size, self.limit = size, limit


@dataclass(frozen=True, slots=True)
class Problem:
    status: int
    title: str
    detail: str
    type: str = "about:blank"
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            **self.extra,
        }


# Most specific first: the first class an error is an instance of decides.
_KNOWN: tuple[tuple[type[ArgyllError], int, str, str], ...] = (
    (MissingInputsError, 400, "missing-inputs", "Missing required inputs"),
    (UnknownGoalsError, 400, "unknown-goals", "Unknown goals"),
    (ValidationError, 400, "validation", "Invalid request"),
    (NotFoundError, 404, "not-found", "Not found"),
    (ConflictError, 409, "conflict", "Conflict"),
    (BodyTooLargeError, 413, "body-too-large", "Request body too large"),
    (StoreError, 503, "store-unavailable", "Event store unavailable"),
)


def problem_for(error: BaseException) -> Problem:
    """The problem details answering ``error``; unexpected errors are logged here."""
    if isinstance(error, HTTPError):
        return _http_problem(error)
    for cls, status, slug, title in _KNOWN:
        if isinstance(error, cls):
            if status >= 500:
                log.error("request failed: %s", error)
            return Problem(status, title, str(error), TYPE_PREFIX + slug, _extra(error))
    log.error("unexpected error while serving a request", exc_info=error)
    return Problem(
        500,
        "Internal server error",
        "the server failed to handle this request; the error is in its log",
        TYPE_PREFIX + "internal",
    )


def _extra(error: BaseException) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if isinstance(error, ValidationError):
        extra["problems"] = [{"field": f, "reason": r} for f, r in error.problems]
    if isinstance(error, MissingInputsError):
        extra["inputs"] = list(error.inputs)
    if isinstance(error, UnknownGoalsError):
        extra["goals"] = list(error.goals)
    return extra


def _http_problem(error: HTTPError) -> Problem:
    """Tornado's own refusals (no route, method not allowed) in the same shape."""
    status = error.status_code
    title = error.reason or _phrase(status)
    message = error.log_message
    if message and error.args:
        message = message % error.args
    return Problem(status, title, message or title)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
