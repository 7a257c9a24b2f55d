"""The CLI's event log asks the engine only for the events it prints at the level set."""

from __future__ import annotations

import logging

import pytest

from argyll.cli.serve import event_log, logged

TYPES = {"step_started", "attribute_set", "work_started", "flow_started", "flow_completed"} | {
    "flow_failed",
    "flow_canceled",
    "flow_retried",
    "step_failed",
    "comp_failed",
}
TROUBLE = {"flow_failed", "flow_canceled", "step_failed", "comp_failed"}


@pytest.mark.parametrize(
    ("level", "printed"),
    [
        (logging.ERROR, {"comp_failed"}),
        (logging.WARNING, TROUBLE),
        (logging.INFO, TROUBLE | {"flow_started", "flow_completed", "flow_retried"}),
    ],
)
def test_the_event_log_wants_what_it_prints_at_its_level(level: int, printed: set[str]) -> None:
    kept = event_log.level
    event_log.setLevel(level)
    try:
        wanted = {event_type for event_type in TYPES if logged("flow:f", event_type)}
    finally:
        event_log.setLevel(kept)
    assert wanted == printed
