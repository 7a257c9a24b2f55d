"""The store contract: pytest suites, one per role of ``argyll.store.base``, for any backend.

A backend runs the roles it implements by subclassing their suites in a test
module (the class name must start with ``Test``) and opening a fresh, empty
store, either in ``open_store`` or by overriding the ``store`` fixture (to
parametrize it, or to use other fixtures)::

    from argyll.store.contract import StoreContract

    class TestMyStore(StoreContract):          # or (StreamsContract, FeedContract, ...)
        async def open_store(self) -> EventStore:
            return await MyEventStore.open("my://localhost/test")

``StoreContract`` is every role together, which the engine needs. Every suite but
``StreamsContract``, ``LeasesContract``, ``SlotsContract`` and ``MemosContract``
(``RetentionContract`` needs it too) appends to set up what it checks, so each needs
the streams role too;
``SlotsContract`` needs the leases role (slots are reaped by lease). The suites
need pytest and pytest-asyncio (the ``dev`` extras); ``tests/contract/test_store.py``
runs them on the memory, SQLite, Redis and Redis Cluster stores.
"""

from argyll.store.contract.memos import MemosContract
from argyll.store.contract.queries import FlowQueryContract
from argyll.store.contract.retention import RetentionContract
from argyll.store.contract.roles import (
    FeedContract,
    FlowIndexContract,
    LeasesContract,
    LifecycleContract,
    SnapshotsContract,
    StreamsContract,
)
from argyll.store.contract.slots import SlotsContract
from argyll.store.contract.support import (
    EMPTY_PLAN,
    NOW,
    WAIT,
    at,
    rich_events,
    skipped,
    started,
    take,
)

__all__ = [
    "EMPTY_PLAN",
    "NOW",
    "WAIT",
    "FeedContract",
    "FlowIndexContract",
    "FlowQueryContract",
    "LeasesContract",
    "LifecycleContract",
    "MemosContract",
    "RetentionContract",
    "SlotsContract",
    "SnapshotsContract",
    "StoreContract",
    "StreamsContract",
    "at",
    "rich_events",
    "skipped",
    "started",
    "take",
]


class StoreContract(
    StreamsContract,
    FeedContract,
    FlowIndexContract,
    FlowQueryContract,
    SnapshotsContract,
    LeasesContract,
    SlotsContract,
    MemosContract,
    RetentionContract,
    LifecycleContract,
):
    """Every role: what a store must do for the engine to run on it."""
