"""The applier tables: one applier per event type, registered by ``@applies``."""

from datetime import UTC, datetime

import pytest

from argyll.apply import CATALOG_APPLIERS, FLOW_APPLIERS, applies, fold, fold_flow, new_flow
from argyll.events import (
    CATALOG,
    EVENT_TYPES,
    Event,
    FlowCompleted,
    StepHealthChanged,
    StepUnregistered,
)
from argyll.model import Catalog

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_every_event_type_has_exactly_one_applier():
    assert not set(CATALOG_APPLIERS) & set(FLOW_APPLIERS)
    assert set(CATALOG_APPLIERS) | set(FLOW_APPLIERS) == set(EVENT_TYPES.values())


def test_flow_events_are_folded_by_the_flow_table_and_catalog_events_by_the_catalog_one():
    flow_events = {cls for cls in EVENT_TYPES.values() if "flow_id" in cls.__dataclass_fields__}
    assert set(FLOW_APPLIERS) == flow_events


def test_a_second_applier_for_one_event_type_is_refused():
    table = {}

    @applies(table, StepUnregistered)
    def first(catalog: Catalog, event: Event, data: StepUnregistered) -> Catalog:
        return catalog

    with pytest.raises(ValueError, match="step_unregistered already has an applier: first"):

        @applies(table, StepUnregistered)
        def second(catalog: Catalog, event: Event, data: StepUnregistered) -> Catalog:
            return catalog

    assert table == {StepUnregistered: first}


def test_fold_hands_each_applier_its_event_and_the_event_data():
    seen = []
    table = {}

    @applies(table, StepHealthChanged)
    def record(catalog: Catalog, event: Event, data: StepHealthChanged) -> Catalog:
        seen.append((event.seq, data.status))
        return catalog

    events = [Event(CATALOG, n, NOW, StepHealthChanged("s", s)) for n, s in [(1, "a"), (2, "b")]]
    assert fold(Catalog(), events, table) == Catalog()
    assert seen == [(1, "a"), (2, "b")]


def test_a_flow_history_must_open_with_flow_started():
    event = Event("flow:f", 1, NOW, FlowCompleted("f"))
    with pytest.raises(TypeError, match="flow:f must open with flow_started, not flow_completed"):
        new_flow(event)
    with pytest.raises(TypeError):
        fold_flow([event])
