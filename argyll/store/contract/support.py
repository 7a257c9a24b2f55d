"""What the contract suites share: fixed times, event makers, the fresh-store fixture."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio

from argyll.events import (
    Event,
    EventData,
    FlowCompleted,
    FlowStarted,
    StepSkipped,
    StepStarted,
    WorkRetryScheduled,
)
from argyll.model import FlowID, Plan, StepID, Token, parse_step
from argyll.store.base import EventStore

NOW = datetime(2024, 5, 1, 12, 30, 15, 123000, tzinfo=UTC)
EMPTY_PLAN = Plan(goals=(), required=(), steps={}, attributes={})
WAIT = 5.0
"""Seconds any single wait in these tests may take before it counts as a hang."""


def started(flow_id: str, **init: object) -> FlowStarted:
    return FlowStarted(FlowID(flow_id), EMPTY_PLAN, init)


def skipped(flow_id: str, reason: str = "not needed", step_id: str = "s") -> StepSkipped:
    return StepSkipped(FlowID(flow_id), StepID(step_id), reason)


def at(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


async def append_to(
    store: EventStore, aggregate: str, events: Sequence[EventData], timestamp: datetime = NOW
) -> list[Event]:
    """Append at the aggregate's current version."""
    return await store.append(aggregate, await store.version(aggregate), events, timestamp)


async def take(events: AsyncIterator[Event], count: int) -> list[Event]:
    """The next ``count`` events of a subscription, within WAIT seconds."""
    taken: list[Event] = []
    async with asyncio.timeout(WAIT):
        async for event in events:
            taken.append(event)
            if len(taken) == count:
                break
    return taken


def stale_batch() -> list[EventData]:
    """A batch appended at a stale version of ``flow:a``: it would have ended the flow."""
    return [skipped("a", "late"), FlowCompleted(FlowID("a"))]


def rich_events() -> list[EventData]:
    """Events whose data has every JSON shape: nesting, unicode, floats, null, quotes."""
    step = parse_step(
        {
            "id": "greet",
            "type": "sync",
            "http": {"endpoint": "http://localhost:9/greet"},
            "attributes": {
                "name": {"role": "required", "type": "string"},
                "greeting": {"role": "output"},
            },
        }
    )
    plan = Plan(goals=(step.id,), required=("name",), steps={step.id: step}, attributes={})
    nested = {"list": [1, 2.5, None, True, {"deep": ["x"]}], "text": "héllo, 世界 🌍", "n": -3}
    return [
        FlowStarted(FlowID("r"), plan, {"name": "Zoë", "nested": nested}),
        StepStarted(FlowID("r"), step.id, {"name": "Zoë"}, {Token("t1"): {"name": "Zoë"}}),
        WorkRetryScheduled(FlowID("r"), step.id, Token("t1"), 2, at(0.5)),
        StepSkipped(FlowID("r"), StepID("other"), 'predicate said "no"\n'),
    ]


class Suite:
    """Opens a fresh store per test: implement ``open_store`` or override ``store``."""

    pytestmark = pytest.mark.asyncio

    async def open_store(self) -> EventStore:
        raise NotImplementedError(f"{type(self).__name__}: open the store under test here")

    @pytest_asyncio.fixture
    async def store(self) -> AsyncIterator[EventStore]:
        opened = await self.open_store()
        try:
            yield opened
        finally:
            await opened.aclose()
