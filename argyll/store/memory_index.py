"""The memory store's flow index: rows by id, and their sort keys in order per filter.

Each status, label (name and value), goal and parent keeps the sort keys of its flows in a
sorted list, so a query walks the shortest list that holds every match, from its
cursor on, instead of every flow ever started.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from argyll.flow_query import FlowPage, FlowQuery, SortKey, page_of, sort_key
from argyll.model import FlowStatus, FlowSummary


@dataclass(slots=True)
class MemoryFlowIndex:
    rows: dict[str, FlowSummary] = field(default_factory=dict)
    _all: list[SortKey] = field(default_factory=list)
    _statuses: dict[FlowStatus, list[SortKey]] = field(default_factory=dict)
    _labels: dict[tuple[str, str], list[SortKey]] = field(default_factory=dict)
    _goals: dict[str, list[SortKey]] = field(default_factory=dict)
    _children: dict[str, list[SortKey]] = field(default_factory=dict)

    def put(self, summary: FlowSummary) -> None:
        """Keep ``summary`` as its flow's row, in the lists of what it now is."""
        key = sort_key(summary)
        old = self.rows.get(summary.id)
        self.rows[summary.id] = summary
        if old is None:
            bisect.insort(self._all, key)
            for label in summary.labels.items():
                bisect.insort(self._labels.setdefault(label, []), key)
            for goal in summary.goals:
                bisect.insort(self._goals.setdefault(goal, []), key)
            if summary.parent is not None:
                bisect.insort(self._children.setdefault(summary.parent, []), key)
        elif old.status is summary.status:
            return
        else:
            keys = self._statuses[old.status]
            del keys[bisect.bisect_left(keys, key)]
        bisect.insort(self._statuses.setdefault(summary.status, []), key)

    def remove(self, flow_id: str) -> None:
        """Take the flow's row out of the index and out of every list that holds it."""
        summary = self.rows.pop(flow_id)
        key = sort_key(summary)
        _drop(self._all, key)
        _drop_from(self._statuses, summary.status, key)
        for label in summary.labels.items():
            _drop_from(self._labels, label, key)
        for goal in summary.goals:
            _drop_from(self._goals, goal, key)
        if summary.parent is not None:
            _drop_from(self._children, summary.parent, key)

    def counts(self) -> dict[FlowStatus, int]:
        return {status: len(self._statuses.get(status, ())) for status in FlowStatus}

    def query(self, query: FlowQuery) -> FlowPage:
        walks = [_walk(keys, query) for keys in self._candidates(query)]
        ordered = heapq.merge(*walks, reverse=query.newest_first)
        return page_of(query, (self.rows[flow_id] for _, flow_id in ordered))

    def _candidates(self, query: FlowQuery) -> list[list[SortKey]]:
        """The shortest lists that together hold every match: one label's, goal's or
        parent's flows, the flows of each wanted status, or all of them."""
        narrow = [self._labels.get(label, []) for label in query.labels.items()]
        narrow += [self._goals.get(goal, []) for goal in query.goals]
        if query.parent is not None:
            narrow.append(self._children.get(query.parent, []))
        choices = [[keys] for keys in narrow]
        if query.statuses:
            choices.append([self._statuses.get(status, []) for status in query.statuses])
        choices.append([self._all])
        return min(choices, key=lambda lists: sum(map(len, lists)))


def _drop(keys: list[SortKey], key: SortKey) -> None:
    del keys[bisect.bisect_left(keys, key)]


def _drop_from(lists: dict[Any, list[SortKey]], name: Any, key: SortKey) -> None:
    """Take ``key`` out of ``name``'s list; a list left empty goes, so removed flows' labels,
    goals and parents leave nothing behind."""
    keys = lists[name]
    _drop(keys, key)
    if not keys:
        del lists[name]


def _walk(keys: list[SortKey], query: FlowQuery) -> Iterator[SortKey]:
    """The keys in the query's order, from just past its cursor."""
    after = query.after
    if query.newest_first:
        end = len(keys) if after is None else bisect.bisect_left(keys, after.key())
        return (keys[index] for index in range(end - 1, -1, -1))
    start = 0 if after is None else bisect.bisect_right(keys, after.key())
    return (keys[index] for index in range(start, len(keys)))
