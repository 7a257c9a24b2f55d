"""The JSON log format: one parseable object a line, with the flow and step ids as fields."""

from __future__ import annotations

import json
import logging
import sys

from argyll.logs import JsonFormatter


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("argyll.engine", logging.WARNING, __file__, 1, message, args, None)
    made.__dict__.update(extra)
    made.created = 1796112000.25
    return made


def test_a_record_is_one_json_object_with_its_ids() -> None:
    line = JsonFormatter().format(record("retrying in %.1fs", 0.5, flow_id="f1", step_id="s1"))
    assert "\n" not in line
    assert json.loads(line) == {
        "time": "2026-12-01T08:00:00.250Z",
        "level": "warning",
        "logger": "argyll.engine",
        "message": "retrying in 0.5s",
        "flow_id": "f1",
        "step_id": "s1",
    }


def test_ids_that_are_not_known_are_left_out_and_messages_stay_one_line() -> None:
    parsed = json.loads(JsonFormatter().format(record('two\nlines "quoted"')))
    assert parsed["message"] == 'two\nlines "quoted"'
    assert "flow_id" not in parsed and "step_id" not in parsed


def test_an_exception_is_a_field_of_the_same_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        failed = logging.LogRecord("argyll", logging.ERROR, __file__, 1, "failed", (), None)
        failed.exc_info = sys.exc_info()
    line = JsonFormatter().format(failed)
    assert "\n" not in line
    assert "ValueError: boom" in json.loads(line)["exception"]
