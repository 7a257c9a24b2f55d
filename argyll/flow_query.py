"""Flow queries: which rows of the flow index a listing wants, in what order, from where.

A query filters on what the index row holds (status, labels, goals, id, parent,
creation time) and pages through the rows in creation order, newest first by default.
The place a page ended is a ``FlowCursor``: the (created_at, id) of its last row,
handed to callers as an opaque string. The next page starts strictly after it, so
paging is stable: every flow that existed when paging began is listed exactly
once, whatever is started meanwhile (a newer flow sorts before the first page
when newest first, after the last one otherwise).

Every store answers a query from indexes of its own; what a match is and where a
page starts is decided here, once.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from argyll.errors import ValidationError
from argyll.model import DEFAULT_PAGE, FlowStatus, FlowSummary, parse_time
from argyll.model.validation import FLOW_QUERY, checked

NEWEST_FIRST = "-created_at"
OLDEST_FIRST = "created_at"
SORTS = (NEWEST_FIRST, OLDEST_FIRST)

SortKey = tuple[datetime, str]


@dataclass(frozen=True, slots=True)
class FlowCursor:
    """Where a page ended: its last row's creation time (to the microsecond, as stores keep
    it) and id."""

    created_at: datetime
    flow_id: str

    def encode(self) -> str:
        """The opaque string callers hand back."""
        moment = self.created_at.isoformat(timespec="microseconds")
        text = json.dumps([moment, self.flow_id], separators=(",", ":"))
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> FlowCursor:
        """The cursor ``encode`` gave; anything else is a ValidationError naming ``cursor``."""
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            created, flow_id = json.loads(raw)
            if not isinstance(flow_id, str) or not isinstance(created, str):
                raise ValueError(text)
            return cls(utc(parse_time(created)), flow_id)
        except (ValueError, TypeError, binascii.Error) as error:
            reason = "must be a next_cursor of an earlier page"
            raise ValidationError([("cursor", f"{reason}, got {json.dumps(text)}")]) from error

    def key(self) -> SortKey:
        return self.created_at, self.flow_id


@dataclass(frozen=True, slots=True)
class FlowQuery:
    """Rows that match every filter given, ``limit`` at a time, after ``after``.

    ``statuses`` is any of; ``labels`` and ``goals`` are all of; the time bounds are
    exclusive.
    """

    statuses: frozenset[FlowStatus] = frozenset()
    labels: Mapping[str, str] = field(default_factory=dict)
    goals: tuple[str, ...] = ()
    id_prefix: str = ""
    parent: str | None = None
    """Only the child flows of this flow."""
    created_after: datetime | None = None
    created_before: datetime | None = None
    newest_first: bool = True
    limit: int = DEFAULT_PAGE
    after: FlowCursor | None = None

    def matches(self, summary: FlowSummary) -> bool:
        """Whether the row passes every filter (the cursor aside)."""
        created = utc(summary.created_at)
        return (
            (not self.statuses or summary.status in self.statuses)
            and summary.has_labels(self.labels)
            and all(goal in summary.goals for goal in self.goals)
            and summary.id.startswith(self.id_prefix)
            and (self.parent is None or summary.parent == self.parent)
            and (self.created_after is None or created > self.created_after)
            and (self.created_before is None or created < self.created_before)
        )

    def to_body(self) -> dict[str, Any]:
        """The query as a request body (``parse_flow_query`` reads it back), defaults left out."""
        body: dict[str, Any] = {
            "statuses": sorted(status.value for status in self.statuses),
            "labels": dict(self.labels),
            "goals": list(self.goals),
            "id_prefix": self.id_prefix,
            "parent": self.parent,
            "created_after": _text(self.created_after),
            "created_before": _text(self.created_before),
            "sort": NEWEST_FIRST if self.newest_first else OLDEST_FIRST,
            "limit": self.limit,
            "cursor": None if self.after is None else self.after.encode(),
        }
        default = FlowQuery()
        defaults = {"sort": NEWEST_FIRST, "limit": default.limit}
        return {
            k: v for k, v in body.items() if v not in (None, "", [], {}) and defaults.get(k) != v
        }

    def past_end(self, key: SortKey) -> bool:
        """Whether a row with this sort key, and every row after it in the query's order,
        falls outside the query's time range."""
        if self.newest_first:
            return self.created_after is not None and key[0] <= self.created_after
        return self.created_before is not None and key[0] >= self.created_before

    def beyond_cursor(self, key: SortKey) -> bool:
        """Whether a row with this sort key comes after the cursor in the query's order."""
        if self.after is None:
            return True
        return key < self.after.key() if self.newest_first else key > self.after.key()


@dataclass(frozen=True, slots=True)
class FlowPage:
    """One page of a query's rows, and the cursor of the next page (None: this was the last)."""

    flows: list[FlowSummary]
    next_cursor: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "flows": [flow.to_dict() for flow in self.flows],
            "count": len(self.flows),
            "next_cursor": self.next_cursor,
        }


def sort_key(summary: FlowSummary) -> SortKey:
    """A row's place in creation order; rows created at the same moment go by id."""
    return utc(summary.created_at), summary.id


def utc(moment: datetime) -> datetime:
    """The moment in UTC (a naive time counts as UTC), so times compare and sort alike."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def page_of(query: FlowQuery, candidates: Iterable[FlowSummary]) -> FlowPage:
    """The page of ``candidates`` (rows in the query's order, from its cursor on) that match.

    One row past the page is looked for, so the last page says so (``next_cursor`` None).
    """
    flows: list[FlowSummary] = []
    for summary in candidates:
        key = sort_key(summary)
        if query.past_end(key):
            break
        if not query.beyond_cursor(key) or not query.matches(summary):
            continue
        if len(flows) == query.limit:
            last = flows[-1]
            return FlowPage(flows, FlowCursor(*sort_key(last)).encode())
        flows.append(summary)
    return FlowPage(flows)


def parse_flow_query(body: Any) -> FlowQuery:
    """A query from a request body (``FlowQuery`` of the model's schemas); every bad field
    is named in one ValidationError."""
    problems = FLOW_QUERY.problems(body)
    if not isinstance(body, Mapping):
        checked(body, problems)
    bounds = {name: _moment(name, body.get(name), problems) for name in _BOUNDS}
    cursor = body.get("cursor")
    after = _cursor(cursor, problems) if isinstance(cursor, str) else None
    checked(body, problems)
    return FlowQuery(
        statuses=frozenset(FlowStatus(status) for status in body.get("statuses", ())),
        labels=dict(body.get("labels", {})),
        goals=tuple(body.get("goals", ())),
        id_prefix=body.get("id_prefix", ""),
        parent=body.get("parent"),
        created_after=bounds["created_after"],
        created_before=bounds["created_before"],
        newest_first=body.get("sort", NEWEST_FIRST) == NEWEST_FIRST,
        limit=body.get("limit", DEFAULT_PAGE),
        after=after,
    )


_BOUNDS = ("created_after", "created_before")


def _cursor(text: str, problems: list[tuple[str, str]]) -> FlowCursor | None:
    try:
        return FlowCursor.decode(text)
    except ValidationError as error:
        problems += error.problems
        return None


def _text(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="microseconds")


def _moment(name: str, text: Any, problems: list[tuple[str, str]]) -> datetime | None:
    """The time ``text`` names; a string that is not a time adds a problem (a value of
    another type has one from the schema already)."""
    if not isinstance(text, str):
        return None
    try:
        return utc(parse_time(text))
    except ValueError:
        problems.append((name, f"must be an ISO-8601 time, got {json.dumps(text)}"))
        return None
