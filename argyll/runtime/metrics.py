"""The engine's Prometheus series (docs/metrics.md), in one registry per engine.

Each ``Engine`` owns a ``Metrics`` with its own ``CollectorRegistry``, so several
engines in one process (tests, notebooks) never share or collide on a series.

Counters count what *this* engine appended, read from the events it has just
stored, never from the shared feed: two instances on one store each count
their own writes, and summing a counter over instances gives the store's
total exactly once. ``argyll_flows_active`` is the one store-wide figure: it is
read from the flow index when the metrics are rendered, so every instance
reports the same value (aggregate it with ``max``, not ``sum``).

Recording is on the hot path (every append, every work item, every request),
so it only bumps plain numbers; ``prometheus_client`` metric objects take a lock
and cost several times more per call. ``collect`` turns the numbers into metric
families when scraped. Everything runs on the engine's event loop, so the
numbers need no lock.

Labels are step ids, outcomes, statuses and route templates; a flow id is
never a label (its cardinality has no bound).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString

from argyll.events import (
    EventData,
    FlowCompleted,
    FlowFailed,
    FlowStarted,
    WorkFailed,
    WorkNotCompleted,
    WorkSucceeded,
)

CONTENT_TYPE = CONTENT_TYPE_LATEST
"""The Prometheus text exposition format's content type."""

UNMATCHED_ROUTE = "unmatched"
"""The route label of every request no route matched (so unknown paths add one series)."""

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
"""Upper bounds, in seconds, of the latency histograms' buckets (``+Inf`` comes last)."""

_STARTED, _ENDED, _WORK = "started", "ended", "work"
_COUNTED: dict[type[EventData], tuple[str, str]] = {
    FlowStarted: (_STARTED, ""),
    FlowCompleted: (_ENDED, "completed"),
    FlowFailed: (_ENDED, "failed"),
    WorkSucceeded: (_WORK, "succeeded"),
    WorkFailed: (_WORK, "failed"),
    WorkNotCompleted: (_WORK, "not_completed"),
}
"""What each counted event adds to: its series, and the status or outcome label."""
_BOUNDS = [floatToGoString(bound) for bound in BUCKETS] + ["+Inf"]


class Latencies:
    """One histogram's observations: a count per bucket, and their sum."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS) + 1)
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(BUCKETS, seconds)] += 1
        self.total += seconds

    def cumulative(self) -> list[tuple[str, float]]:
        running, buckets = 0, []
        for bound, count in zip(_BOUNDS, self.counts, strict=True):
            running += count
            buckets.append((bound, running))
        return buckets


class Metrics:
    """Every series of one engine (and the servers in front of it), and how to record each."""

    def __init__(self) -> None:
        self.flows_started = 0
        self.flows_ended = {label: 0 for series, label in _COUNTED.values() if series is _ENDED}
        self.flows_active = 0
        self.work: dict[tuple[str, str], int] = {}
        self.work_duration: dict[str, Latencies] = {}
        self.store_append = Latencies()
        self.http_requests: dict[tuple[str, str, str], int] = {}
        self.flows_removed = 0
        self.retention_sweeps = Latencies()
        self.registry = CollectorRegistry()
        self.registry.register(self)

    # ------------------------------------------------------------ recording

    def appended(self, events: Sequence[EventData]) -> None:
        """Count the flow events this engine has just stored."""
        for data in events:
            counted = _COUNTED.get(type(data))
            if counted is None:
                continue
            series, label = counted
            if series is _WORK:
                key = (data.step_id, label)  # type: ignore[attr-defined]
                self.work[key] = self.work.get(key, 0) + 1
            elif series is _ENDED:
                self.flows_ended[label] += 1
            else:
                self.flows_started += 1

    def observe_work(self, step_id: str, seconds: float) -> None:
        latencies = self.work_duration.get(step_id)
        if latencies is None:
            latencies = self.work_duration[step_id] = Latencies()
        latencies.observe(seconds)

    def observe_append(self, seconds: float) -> None:
        self.store_append.observe(seconds)

    def swept(self, removed: int, seconds: float) -> None:
        """Count one retention sweep: the flows it removed and how long it took."""
        self.flows_removed += removed
        self.retention_sweeps.observe(seconds)

    def http_request(self, route: str, method: str, status: int) -> None:
        key = (route, method, str(status))
        self.http_requests[key] = self.http_requests.get(key, 0) + 1

    # ------------------------------------------------------------ exposition

    def render(self, active_flows: int) -> bytes:
        """The text exposition of every series, with the store-wide gauge as given."""
        self.flows_active = active_flows
        return generate_latest(self.registry)

    def collect(self) -> Iterator[Metric]:
        """The metric families, as ``CollectorRegistry`` asks a collector for them."""
        started = {(): self.flows_started}
        yield _counter("argyll_flows_started", "Flows this engine started.", started)
        yield _counter(
            "argyll_flows_ended",
            "Flows this engine ended, by final status.",
            {(status,): count for status, count in self.flows_ended.items()},
            ["status"],
        )
        yield GaugeMetricFamily(
            "argyll_flows_active",
            "Active flows in the store (not counting paused ones), read at scrape time.",
            self.flows_active,
        )
        yield GaugeMetricFamily("argyll_flows_paused", "Paused flows in the store.", 0)
        yield _counter(
            "argyll_work",
            "Work item results this engine recorded, by step and outcome.",
            self.work,
            ["step", "outcome"],
        )
        yield _histogram(
            "argyll_work_duration_seconds",
            "How long one attempt of a work item ran here (a script, or an HTTP call).",
            {(step,): latencies for step, latencies in self.work_duration.items()},
            ["step"],
        )
        yield _histogram(
            "argyll_store_append_seconds",
            "How long one append to the event store took (refused stale appends included).",
            {(): self.store_append},
        )
        yield _counter(
            "argyll_flows_removed",
            "Ended flows whose history this engine removed (--retention).",
            {(): self.flows_removed},
        )
        yield _histogram(
            "argyll_retention_sweep_seconds",
            "How long one retention sweep took, every batch of it.",
            {(): self.retention_sweeps},
        )
        yield _counter(
            "argyll_http_requests",
            "HTTP requests answered, by route template, method and status.",
            self.http_requests,
            ["route", "method", "status"],
        )


def _counter(
    name: str, documentation: str, values: dict, labels: Sequence[str] = ()
) -> CounterMetricFamily:
    family = CounterMetricFamily(name, documentation, labels=labels)
    for label_values, value in values.items():
        family.add_metric(label_values, value)
    return family


def _histogram(
    name: str, documentation: str, series: dict, labels: Sequence[str] = ()
) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, documentation, labels=labels)
    for label_values, latencies in series.items():
        family.add_metric(label_values, latencies.cumulative(), latencies.total)
    return family
