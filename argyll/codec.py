"""The one codec of stored events: EventData <-> (type, schema version, payload text).

Durable stores keep what ``encode`` gives them and hand it back to ``decode``;
none of them reads or writes a payload itself, so a change of an event's shape
is made here and in ``argyll.events`` only, and stored history keeps reading.

Versions: each event type has a ``schema_version`` (``EventData.schema_version``,
1 for every type today). A payload stored at an older version is lifted one
version at a time by ``UPCASTERS`` before it is decoded; a row stored before
events carried a version (``None``) is version 1. To change a type's fields:
raise its ``schema_version`` to n + 1 and add ``UPCASTERS[(type, n)]``, a pure
function from the version-n fields (a JSON object) to the version n + 1 fields.
``tests/golden`` holds logs written at each version that must keep decoding.

Timestamps: ``encode_time`` gives fixed-width ISO-8601 text (microseconds always
shown), so text order is time order in an index; ``decode_time`` reads it back.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from argyll.errors import StoreError
from argyll.events import EVENT_TYPES, EventData
from argyll.json_encoding import to_json
from argyll.model import parse_time

UNVERSIONED = 1
"""The schema version of an event stored before events carried one."""

Fields = dict[str, Any]
Upcaster = Callable[[Fields], Fields]
Encoded = tuple[str, int, str]
"""(type, schema version, payload): what a store keeps of an event's data."""

UPCASTERS: dict[tuple[str, int], Upcaster] = {}
"""(type, n) -> the function that lifts that type's version-n fields to version n + 1."""



def encode(data: EventData) -> Encoded:
    """The event's data as stored: its type, its schema version and its fields as JSON."""
    return data.type, data.schema_version, to_json(data.to_dict())


def encode_without(data: EventData, implied: Fields) -> Encoded:
    """As ``encode``, less the fields whose values are those in ``implied``: a store that
    knows them from elsewhere (a flow event's ``flow_id`` from its aggregate's name) keeps
    them once and hands them back to ``decode``."""
    fields = data.to_dict()
    for name, value in implied.items():
        if fields.get(name) == value:
            del fields[name]
    return data.type, data.schema_version, to_json(fields)


def decode(
    event_type: str, version: int | None, payload: str | bytes, implied: Fields | None = None
) -> EventData:
    """The event data a store kept (``version`` None: stored before versions, so 1), with
    the ``implied`` fields it was encoded without, where the payload lacks them.

    Raises StoreError for a type this argyll does not know, or a version newer than it knows.
    """
    cls = EVENT_TYPES.get(event_type)
    if cls is None:
        raise StoreError(f"a stored event has the unknown type {event_type!r}")
    fields = json.loads(payload)
    if implied:
        fields = {**implied, **fields}
    if version is None:
        version = UNVERSIONED
    if version != cls.schema_version:
        fields = upcast(event_type, version, fields)
    return cls.from_dict(fields)


def upcast(event_type: str, version: int, fields: Fields) -> Fields:
    """``fields`` of ``event_type`` at ``version``, lifted to the type's current version."""
    current = EVENT_TYPES[event_type].schema_version
    if version > current:
        raise StoreError(
            f"a stored {event_type} event has schema version {version}; "
            f"this argyll reads up to version {current}"
        )
    for older in range(version, current):
        fields = UPCASTERS[(event_type, older)](fields)
    return fields


def encode_time(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def decode_time(text: str) -> datetime:
    return parse_time(text)
