"""Answering errors: every error reply of the server is a problem+json body from one table.

The body comes from ``argyll.problems`` (type, title, status, detail and the
structured fields of the error); Tornado's own refusals (no route, method not
allowed) get the same shape with type ``about:blank``. What is an outage or a
bug is logged here: a store failure as an error line, anything the table does
not know with its traceback (and the client is told nothing about it). An engine
still starting is neither: its 503 says when to ask again (``Retry-After``).
"""

from __future__ import annotations

import logging
from typing import Any

from tornado.web import HTTPError, RequestHandler

from argyll.errors import StartingError, UnauthorizedError
from argyll.json_encoding import to_json_bytes
from argyll.problems import INTERNAL, problem_body, problem_type_of, status_problem
from argyll.wire import PROBLEM_CONTENT_TYPE

log = logging.getLogger("argyll.server")


def problem_for(error: BaseException) -> dict[str, Any]:
    """The problem details answering ``error``; unexpected errors are logged here."""
    if isinstance(error, HTTPError):
        return _http_problem(error)
    row = problem_type_of(error)
    if row is INTERNAL:
        log.error("unexpected error while serving a request", exc_info=error)
    elif row.status >= 500 and not isinstance(error, StartingError):
        log.error("request failed: %s", error)
    return problem_body(error)


def write_problem(handler: RequestHandler, status_code: int, exc_info: Any) -> None:
    """Answer the error being handled (or a bare status) as problem+json."""
    error = exc_info[1] if exc_info else HTTPError(status_code)
    problem = problem_for(error)
    handler.set_status(problem["status"])
    if isinstance(error, UnauthorizedError):
        handler.set_header("WWW-Authenticate", 'Bearer realm="argyll"')
    if isinstance(error, StartingError):
        handler.set_header("Retry-After", str(error.retry_after))
    handler.set_header("Content-Type", PROBLEM_CONTENT_TYPE)
    handler.finish(to_json_bytes(problem) + b"\n")


def _http_problem(error: HTTPError) -> dict[str, Any]:
    message = error.log_message
    if message and error.args:
        message = message % error.args
    return status_problem(error.status_code, message, error.reason)
