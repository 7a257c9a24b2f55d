"""Bounded history: a periodic sweep that removes the flows that ended long enough ago.

Each sweep takes the cutoff from the engine's clock (``argyll.retention.cutoff``)
and works in batches of ``batch`` flows: find ended flows (``ended_flows``), write
their events to the archive if there is one (``argyll.archive``, in a thread, on
disk before anything is removed), then remove them (``remove_flows``, which checks
the rule again in the same write, so a flow retried meanwhile stays). A batch is
one short store call, so appends wait at most for one batch, never for a sweep; on
SQLite the batch runs on the store's thread between group commits.

Several engines on one store may sweep at once: a flow is removed once, and at
worst archived twice (``argyll.archive`` says why a duplicate is never a loss).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from argyll.archive import write_archive
from argyll.errors import ArgyllError, ValidationError
from argyll.events import Event, flow_aggregate
from argyll.model import FlowSummary
from argyll.retention import cutoff
from argyll.runtime.clock import Clock
from argyll.runtime.metrics import Metrics
from argyll.store import EventStore

log = logging.getLogger("argyll.retention")

SWEEP_INTERVAL = 3600.0
"""Seconds between sweeps."""
SWEEP_BATCH = 200
"""Flows found, archived and removed per store call."""


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """How long ended flows are kept, and where their history goes before it is removed.

    Args:
        days: keep a flow this many days after it ended (completed, failed or canceled).
        archive: a directory for the removed flows' events, one gzip file a UTC day.
        interval: seconds between sweeps (the first runs when the engine starts).
        batch: flows per batch.
    """

    days: float
    archive: Path | None = None
    interval: float = SWEEP_INTERVAL
    batch: int = SWEEP_BATCH

    def __post_init__(self) -> None:
        problems = []
        if not self.days > 0:
            problems.append(("retention.days", f"must be above 0, not {self.days}"))
        if not self.interval > 0:
            problems.append(("retention.interval", f"must be above 0, not {self.interval}"))
        if self.batch < 1:
            problems.append(("retention.batch", f"must be at least 1, not {self.batch}"))
        if problems:
            raise ValidationError(problems)


@dataclass(frozen=True, slots=True)
class SweepReport:
    """What one sweep did."""

    before: datetime
    """Flows that ended before this were removed."""
    removed: int
    archived: int
    """Events written to the archive."""
    seconds: float


class HistorySweeper:
    """Runs the sweeps of one engine: ``sweep`` once, or ``run`` every ``interval``."""

    def __init__(
        self,
        policy: RetentionPolicy,
        store: Callable[[], EventStore],
        clock: Clock,
        metrics: Metrics,
        removed: Callable[[FlowSummary], None],
    ) -> None:
        self.policy = policy
        self._store = store
        self._clock = clock
        self._metrics = metrics
        self._removed = removed
        self._lock = asyncio.Lock()

    async def run(self) -> None:
        """Sweep now and every ``interval`` seconds after, until cancelled; a failed sweep is
        logged and tried again at the next interval."""
        while True:
            try:
                await self.sweep()
            except (ArgyllError, OSError) as error:
                log.warning("retention sweep failed, nothing more removed: %s", error)
            await asyncio.sleep(self.policy.interval)

    async def sweep(self) -> SweepReport:
        """Remove every flow that ended more than ``days`` ago, batch by batch."""
        async with self._lock:
            started = time.perf_counter()
            before = cutoff(self._clock.now(), self.policy.days)
            removed = archived = 0
            while True:
                found = await self._store().ended_flows(before, self.policy.batch)
                if not found:
                    break
                archived += await self._archive(found)
                gone = await self._store().remove_flows([flow.id for flow in found], before)
                for flow in found:
                    if flow.id in gone:
                        self._removed(flow)
                removed += len(gone)
                if not gone:
                    break  # retried or removed by another engine meanwhile: next sweep
            report = SweepReport(before, removed, archived, time.perf_counter() - started)
        self._metrics.swept(report.removed, report.seconds)
        log.info(
            "retention sweep: removed %d flows that ended before %s, archived %d events, %.3f s",
            report.removed,
            report.before.isoformat(),
            report.archived,
            report.seconds,
        )
        return report

    async def _archive(self, flows: list[FlowSummary]) -> int:
        """Write the flows' events to the archive, by the UTC day each ended; how many."""
        directory = self.policy.archive
        if directory is None:
            return 0
        days: dict[date, list[Event]] = {}
        for flow in flows:
            events = await self._store().read(flow_aggregate(flow.id))
            days.setdefault(_day(flow), []).extend(events)
        await asyncio.to_thread(write_archive, directory, days)
        return sum(len(events) for events in days.values())


def _day(flow: FlowSummary) -> date:
    ended = flow.completed_at or flow.created_at
    return ended.date() if ended.tzinfo is None else ended.astimezone(UTC).date()
