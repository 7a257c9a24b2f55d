"""How a caller pages, filters and waits: the query parameters of flow listings, feed
pages and the WebSocket, and the shapes of the pages they answer with (SPEC §11).

Paging is one idea across the API: a flow page carries ``next_cursor``, a feed page
``next_after``, and both are given back as the next request's parameter.
"""

from __future__ import annotations

from argyll.events import EVENT_TYPES
from argyll.model import ID_PATTERN, FlowStatus
from argyll.model import schema as model_schema
from argyll.model.schema import enum_schema
from argyll.server.feed import MAX_PAGE
from argyll.server.openapi_shapes import Schema, obj, ref
from argyll.wire import MAX_WAIT

WAIT_QUERY = {
    "name": "wait",
    "in": "query",
    "description": f"seconds to wait for the flow to end (more than {MAX_WAIT:g} count as it)",
    "schema": {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$"},
}
_AFTER_QUERY = {
    "name": "after",
    "in": "query",
    "description": "a position the feed gave (an event's `position`, a page's `next_after`)",
    "schema": {"type": "string"},
}
_EVENT_TYPE = f"(?:{'|'.join(sorted(EVENT_TYPES))})"


def _listed_query(name: str, description: str, item: str) -> Schema:
    """A query parameter repeated, each value one ``item`` or several joined by commas."""
    listed = {"type": "string", "pattern": f"^{item}(?:,{item})*$"}
    return {
        "name": name,
        "in": "query",
        "description": description,
        "schema": {"type": "array", "items": listed},
        "style": "form",
        "explode": True,
    }


def stream_parameters() -> list[Schema]:
    """The WebSocket's filters, evaluated on the server: flows, event types, a position."""
    return [
        _listed_query(
            "flow_id",
            "only these flows (comma-separated or repeated)",
            f"(?:{ID_PATTERN.pattern})",
        ),
        _listed_query("types", "only events of these types", _EVENT_TYPE),
        _AFTER_QUERY,
    ]


def feed_parameters() -> list[Schema]:
    """A page of a feed: the events after a position, at most ``limit`` of them."""
    return [
        _AFTER_QUERY,
        {
            "name": "limit",
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
        },
    ]


def listing_parameters() -> list[Schema]:
    """``GET /engine/flow``'s query string: the fields of ``FlowQuery``, by parameter."""
    fields = model_schema.definitions()[model_schema.FLOW_QUERY]["properties"]

    def repeated(name: str, items: Schema, description: str) -> Schema:
        schema = {"type": "array", "items": items}
        return {"name": name, "in": "query", "description": description, "schema": schema}

    once = ("id_prefix", "parent", "created_after", "created_before", "sort", "limit")
    return [
        repeated(
            "status",
            enum_schema(FlowStatus),
            "flows in any of these statuses (repeat, or separate by commas)",
        ),
        repeated(
            "label",
            {"type": "string", "pattern": "^[^=]+="},
            "name=value: only flows with that label (repeat for several)",
        ),
        repeated(
            "goal",
            {"type": "string"},
            "flows whose goals include this step (repeat, or separate by commas)",
        ),
        *(
            {
                "name": name,
                "in": "query",
                "description": fields[name]["description"],
                "schema": {k: v for k, v in fields[name].items() if k != "description"},
            }
            for name in once
        ),
        {
            "name": "cursor",
            "in": "query",
            "description": "the next_cursor of the page before",
            "schema": {"type": "string"},
        },
    ]


def flow_page_schema() -> Schema:
    return obj(
        ["flows", "count", "next_cursor"],
        flows={"type": "array", "items": ref("FlowSummary")},
        count={"type": "integer"},
        next_cursor={
            "type": ["string", "null"],
            "description": "give it as cursor for the next page; null: this is the last",
        },
    )


def event_page_schema() -> Schema:
    return obj(
        ["events", "count", "next_after"],
        events={"type": "array", "items": ref("Event")},
        count={"type": "integer"},
        next_after={
            "type": "string",
            "description": "`after` for the next page (the same position when empty)",
        },
    )
