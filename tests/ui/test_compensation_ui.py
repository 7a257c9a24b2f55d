"""Compensation on the dashboard: timeline bars of each undoing, colours, the drawer's facts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from argyll.decide import Context, Failed, Succeeded, on_start, on_work_outcome
from argyll.events import (
    CompRetryScheduled,
    CompStarted,
    CompSucceeded,
    Event,
    WorkStarted,
    WorkSucceeded,
    flow_aggregate,
)
from argyll.model import FlowID, FlowStatus, StepID
from argyll.planner import plan
from argyll.testing import catalog_of, counter_tokens
from argyll.ui.format import WORK_COLORS
from argyll.ui.model import timeline
from argyll.ui.views.flow_actions import offered
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


def test_a_flow_whose_work_is_undone_offers_no_retry() -> None:
    pay = {
        "id": "pay",
        "type": "sync",
        "attributes": {"amount": {"role": "required"}, "charge": {"role": "output"}},
        "http": {"endpoint": "http://svc/pay", "compensate": "http://svc/refund"},
    }
    ship = {
        "id": "ship",
        "type": "sync",
        "attributes": {"charge": {"role": "required"}, "parcel": {"role": "output"}},
        "http": {"endpoint": "http://svc/ship"},
    }
    context = Context(START, counter_tokens())
    init = {"amount": 1}
    decided = on_start(FlowID("f"), plan(catalog_of(pay, ship), ["ship"], init), init, context)
    for step_id, outcome in (("pay", Succeeded({"charge": "c"})), ("ship", Failed("no"))):
        flow = decided.state
        assert flow is not None
        (token,) = flow.executions[StepID(step_id)].work_items
        decided = on_work_outcome(flow, step_id, token, outcome, context)
    assert decided.state is not None and decided.state.status is FlowStatus.FAILED
    assert offered(decided.state, "") == []
