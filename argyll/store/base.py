"""The one protocol every event store implements, and the flow index they all keep.

Appends are optimistic: the writer states the version it read, and a store that
holds a different version refuses with ``VersionConflict``. A batch is appended
atomically or not at all. The global feed orders every event of every aggregate;
``position`` is opaque to callers and only handed back to the same store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, Self

from argyll.events import Event, EventData, FlowCompleted, FlowFailed, FlowStarted
from argyll.model import FlowStatus, FlowSummary


class ClosesOnExit:
    """``async with store:`` closes the store on the way out."""

    async def aclose(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class EventStore(Protocol):
    url: str

    async def append(
        self, aggregate: str, expected: int, events: Sequence[EventData], timestamp: datetime
    ) -> list[Event]:
        """Append ``events`` after version ``expected``; raise VersionConflict if stale."""
        ...

    async def read(self, aggregate: str, after: int = 0) -> list[Event]:
        """The aggregate's events with seq > ``after``, in order."""
        ...

    async def version(self, aggregate: str) -> int:
        """The aggregate's last seq (0 when it has no events)."""
        ...

    async def read_all(self, after: str = "", limit: int = 1000) -> list[Event]:
        """Up to ``limit`` events of the global feed after ``position`` ("" = the start)."""
        ...

    def subscribe(self, after: str | None = None) -> AsyncIterator[Event]:
        """The global feed from ``after`` ("" = the start, None = from now on), then live."""
        ...

    async def head(self) -> str:
        """The position of the newest event in the global feed ("" when empty)."""
        ...

    async def list_flows(
        self, status: FlowStatus | None = None, limit: int | None = None
    ) -> list[FlowSummary]:
        """Flows from the index, newest first, without folding their events."""
        ...

    async def flow_summary(self, flow_id: str) -> FlowSummary | None: ...

    async def save_snapshot(self, aggregate: str, version: int, state: Mapping[str, Any]) -> None:
        """Keep ``state``, the aggregate folded up to ``version``, to read it back cheaply."""
        ...

    async def load_snapshot(self, aggregate: str) -> tuple[int, dict[str, Any]] | None:
        """The latest snapshot saved for ``aggregate`` as (version, state), if any."""
        ...

    async def heartbeat(self, instance: str, ttl: float) -> None:
        """Say ``instance`` is alive for the next ``ttl`` seconds."""
        ...

    async def live_instances(self) -> set[str]:
        """The instances whose last heartbeat has not yet lapsed."""
        ...

    async def retire(self, instance: str) -> None:
        """Forget ``instance`` at once (a clean shutdown), so others take on its work now."""
        ...

    async def aclose(self) -> None: ...


def summarize(summary: FlowSummary | None, event: Event) -> FlowSummary | None:
    """The flow index row after ``event``; stores call this for each flow event they append."""
    data = event.data
    if isinstance(data, FlowStarted):
        return FlowSummary(data.flow_id, FlowStatus.ACTIVE, event.timestamp)
    if summary is None:
        return None
    if isinstance(data, FlowCompleted):
        return FlowSummary(summary.id, FlowStatus.COMPLETED, summary.created_at, event.timestamp)
    if isinstance(data, FlowFailed):
        return FlowSummary(
            summary.id, FlowStatus.FAILED, summary.created_at, event.timestamp, data.error
        )
    return summary


INDEXED_TYPES = frozenset({FlowStarted.type, FlowCompleted.type, FlowFailed.type})
