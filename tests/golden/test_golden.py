"""Golden event logs: stored history must decode and fold to the same state, forever.

``v<N>/`` holds logs recorded (by ``record.py``) when events were at schema version
N: ``<name>.jsonl`` are stored rows exactly as ``argyll.codec`` wrote them, and
``<name>.state.json`` the state they folded to. The committed files are the
fixture: never edit or re-record a log. Each log is checked as written and as
rows without a version field (rows stored before events carried one), which the
codec reads as version 1.

To change an event's shape (a field added, renamed, retyped):

1. change the class in ``argyll/events.py`` and raise its ``schema_version``
   from n to n + 1;
2. add ``UPCASTERS[(type, n)]`` in ``argyll/codec.py``: a pure function from the
   version-n fields (a JSON object) to the version n + 1 fields, filling a new
   field with what it meant before it existed;
3. run ``python tests/golden/record.py tests/golden/v<n + 1>`` and commit the new
   directory beside the old ones, so both versions are checked from then on.

When the folded *state* gains a field (``FlowState.to_dict``), the
``*.state.json`` files gain it too, with the value an old log folds to: review
that diff by hand; the ``*.jsonl`` logs never change.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from golden_state import catalog_state, flow_state

from argyll.codec import UPCASTERS, decode, decode_time, encode
from argyll.errors import StoreError
from argyll.events import CATALOG, EVENT_TYPES, Event, StepSkipped
from argyll.model import FlowID, StepID

GOLDEN = Path(__file__).parent
LOGS = sorted(GOLDEN.glob("v*/*.jsonl"))


def rows(log: Path) -> Iterator[dict[str, Any]]:
    with log.open(encoding="utf-8") as lines:
        for line in lines:
            yield json.loads(line)


def event(row: dict[str, Any]) -> Event:
    """The event a stored row holds, read the way the stores read theirs."""
    data = decode(row["type"], row.get("version"), row["data"])
    return Event(row["aggregate"], row["seq"], decode_time(row["timestamp"]), data)


def folded(events: list[Event]) -> dict[str, Any]:
    return catalog_state(events) if events[0].aggregate == CATALOG else flow_state(events)


def expected_state(log: Path) -> dict[str, Any]:
    state: dict[str, Any] = json.loads(log.with_suffix(".state.json").read_text("utf-8"))
    return state


def test_there_are_golden_logs_of_a_success_a_failure_and_a_catalog() -> None:
    assert {log.stem for log in LOGS} >= {"success", "failed", "catalog"}
    kinds = {row["type"] for log in LOGS for row in rows(log)}
    assert kinds == set(EVENT_TYPES)  # every event type has stored history


@pytest.mark.parametrize("log", LOGS, ids=lambda log: f"{log.parent.name}/{log.stem}")
def test_a_golden_log_folds_to_its_recorded_state(log: Path) -> None:
    events = [event(row) for row in rows(log)]

    assert [stored.seq for stored in events] == list(range(1, len(events) + 1))
    assert folded(events) == expected_state(log)


@pytest.mark.parametrize("log", LOGS, ids=lambda log: f"{log.parent.name}/{log.stem}")
def test_rows_without_a_version_read_as_version_one(log: Path) -> None:
    """Rows as stored before events carried versions: the version-1 rows, without the field."""
    unversioned = [
        {key: value for key, value in row.items() if key != "version"}
        if row["version"] == 1
        else row
        for row in rows(log)
    ]
    assert any("version" not in row for row in unversioned)

    events = [event(row) for row in unversioned]

    assert folded(events) == expected_state(log)


@pytest.mark.parametrize("log", LOGS, ids=lambda log: f"{log.parent.name}/{log.stem}")
def test_events_at_the_current_version_encode_to_the_stored_bytes(log: Path) -> None:
    current = [
        row for row in rows(log) if row["version"] == EVENT_TYPES[row["type"]].schema_version
    ]

    for row in current:
        assert encode(event(row).data) == (row["type"], row["version"], row["data"])


def test_every_older_version_of_every_type_has_an_upcaster() -> None:
    missing = [
        (event_type, version)
        for event_type, cls in EVENT_TYPES.items()
        for version in range(1, cls.schema_version)
        if (event_type, version) not in UPCASTERS
    ]
    assert missing == []


PAYLOAD_V1 = '{"flow_id":"f","step_id":"s","why":"not needed"}'


@pytest.fixture
def skipped_at_version_2(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if ``step_skipped`` had gone to version 2, which renamed ``why`` to ``reason``."""
    monkeypatch.setattr(StepSkipped, "schema_version", 2)

    def rename_why(fields: dict[str, Any]) -> dict[str, Any]:
        renamed = {**fields, "reason": fields["why"]}
        del renamed["why"]
        return renamed

    monkeypatch.setitem(UPCASTERS, ("step_skipped", 1), rename_why)


@pytest.mark.usefixtures("skipped_at_version_2")
def test_an_older_version_is_lifted_by_its_upcasters() -> None:
    lifted = StepSkipped(FlowID("f"), StepID("s"), "not needed")

    assert decode("step_skipped", 1, PAYLOAD_V1) == lifted
    assert decode("step_skipped", None, PAYLOAD_V1) == lifted
    assert decode("step_skipped", 2, encode(lifted)[2]) == lifted
    assert encode(lifted)[1] == 2


@pytest.mark.usefixtures("skipped_at_version_2")
def test_a_version_newer_than_this_argyll_is_a_store_error() -> None:
    with pytest.raises(StoreError):
        decode("step_skipped", 3, PAYLOAD_V1)


def test_an_unknown_event_type_is_a_store_error() -> None:
    with pytest.raises(StoreError):
        decode("step_teleported", 1, "{}")
