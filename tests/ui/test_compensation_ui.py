"""Compensation on the dashboard: timeline bars of each undoing, colours, the drawer's facts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from argyll.events import (
    CompRetryScheduled,
    CompStarted,
    CompSucceeded,
    Event,
    WorkStarted,
    WorkSucceeded,
    flow_aggregate,
)
from argyll.ui.format import WORK_COLORS
from argyll.ui.model import timeline
from argyll.ui.views.panes import BADGE_COLORS

START = datetime(2026, 1, 1, tzinfo=UTC)


def events(*datas: object) -> list[Event]:
    return [
        Event(flow_aggregate("f"), n + 1, START + timedelta(milliseconds=10 * n), data)
        for n, data in enumerate(datas)
    ]


def test_an_undone_item_shows_its_attempt_each_undo_call_and_the_backoff_between() -> None:
    log = events(
        WorkStarted("f", "pay", "t1"),
        WorkSucceeded("f", "pay", "t1", {"charge": "c"}),
        CompStarted("f", "pay", "t1"),
        CompRetryScheduled("f", "pay", "t1", 1, START + timedelta(milliseconds=100), "HTTP 503"),
        CompStarted("f", "pay", "t1"),
        CompSucceeded("f", "pay", "t1"),
    )
    bars = [(b.kind, b.status, b.label) for b in timeline(log)]
    assert bars == [
        ("attempt", "succeeded", "attempt 1"),
        ("compensation", "not_completed", "HTTP 503"),
        ("backoff", "waited", "undo retry 1 due"),
        ("compensation", "compensated", "undo"),
    ]


def test_every_compensation_status_has_a_colour_and_a_badge() -> None:
    for status in ("compensating", "compensated", "compensation_failed"):
        assert status in WORK_COLORS and status in BADGE_COLORS
