"""The state a golden log folds to, as the JSON its ``<name>.state.json`` holds.

Shared by ``record.py`` (which writes it) and ``test_golden.py`` (which checks it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from argyll.apply import CATALOG_APPLIERS, fold, fold_flow
from argyll.events import Event
from argyll.model import Catalog, iso


def flow_state(events: Sequence[Event]) -> dict[str, Any]:
    """A flow's state (docs/rest.md JSON) and the version it was folded to."""
    state = fold_flow(events)
    return {"version": state.version, "state": state.to_dict()}


def catalog_state(events: Sequence[Event]) -> dict[str, Any]:
    """Every part of the folded catalog: steps, health, the attribute indexes, version."""
    catalog = fold(Catalog(), events, CATALOG_APPLIERS)
    return {
        "version": catalog.version,
        "last_updated": None if catalog.last_updated is None else iso(catalog.last_updated),
        "steps": {step_id: step.to_dict() for step_id, step in catalog.steps.items()},
        "health": {step_id: health.to_dict() for step_id, health in catalog.health.items()},
        "providers": {name: list(ids) for name, ids in catalog.providers.items()},
        "consumers": {name: list(ids) for name, ids in catalog.consumers.items()},
    }
