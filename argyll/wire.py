"""The names both ends of Argyll's HTTP and WebSocket traffic must spell alike.

The engine's step caller, the server, the client, the step SDK and the
dashboard all import these, so a header, a content type, a close code or a
path is written once: the server's routes are made from the same path
templates the client fills in. Standard library only: the core may use it too.
"""

from __future__ import annotations

from urllib.parse import quote

FLOW_ID_HEADER = "Argyll-Flow-ID"
STEP_ID_HEADER = "Argyll-Step-ID"
RECEIPT_TOKEN_HEADER = "Argyll-Receipt-Token"  # noqa: S105 — a header's name, not a secret
WEBHOOK_URL_HEADER = "Argyll-Webhook-URL"
"""Headers the engine sends with every call of an HTTP step (the last one to async steps)."""

JSON_CONTENT_TYPE = "application/json"
PROBLEM_CONTENT_TYPE = "application/problem+json"
"""Every success body is JSON; every error body is RFC 9457 problem details."""

HEALTH_PATH = "/health"
ENGINE_PATH = "/engine"
OPENAPI_PATH = "/engine/openapi.json"
STEPS_PATH = "/engine/step"
STEP_PATH = "/engine/step/{step_id}"
HEALTHS_PATH = "/engine/health"
STEP_HEALTH_PATH = "/engine/health/{step_id}"
PLAN_PATH = "/engine/plan"
FLOWS_PATH = "/engine/flow"
FLOW_QUERY_PATH = "/engine/flow/query"
FLOW_PATH = "/engine/flow/{flow_id}"
FLOW_STATUS_PATH = "/engine/flow/{flow_id}/status"
FLOW_EVENTS_PATH = "/engine/flow/{flow_id}/events"
FLOW_CANCEL_PATH = "/engine/flow/{flow_id}/cancel"
FLOW_PAUSE_PATH = "/engine/flow/{flow_id}/pause"
FLOW_RESUME_PATH = "/engine/flow/{flow_id}/resume"
FLOW_RETRY_PATH = "/engine/flow/{flow_id}/retry"
FLOW_EXPLAIN_PATH = "/engine/flow/{flow_id}/explain"
STEP_COMPLETE_PATH = "/engine/flow/{flow_id}/step/{step_id}/complete"
STEP_SKIP_PATH = "/engine/flow/{flow_id}/step/{step_id}/skip"
FEED_PATH = "/engine/events"
CATALOG_EVENTS_PATH = "/engine/catalog/events"
EVENTS_PATH = "/engine/ws"
"""The REST resources of docs/rest.md (the global feed and the catalog's events paged by
position among them) and the WebSocket of the event feed."""
METRICS_PATH = "/metrics"
"""The Prometheus scrape target (docs/metrics.md)."""
WEBHOOK_PATH = "/webhook/{flow_id}/{step_id}/{token}"
"""Where an async step posts its result (docs/steps.md)."""

MAX_WAIT = 60.0
"""The longest, in seconds, a read with ``?wait=`` is held for a flow to end (more counts as it)."""

TOKEN_QUERY = "token"  # noqa: S105 — a query parameter's name, not a secret
TOKEN_COOKIE = "argyll_token"  # noqa: S105 — a cookie's name, not a secret
"""Where a browser gives its token once (``?token=``) and then keeps it (an HttpOnly cookie)."""

CLOSE_GOING_AWAY = 1001
CLOSE_INTERNAL_ERROR = 1011
CLOSE_TRY_AGAIN_LATER = 1013
"""Close codes of the event WebSocket: the server stops; its feed failed; the client fell behind."""


def fill_path(template: str, **parts: str) -> str:
    """A path template with each ``{name}`` replaced by its part, quoted as one path segment."""
    return template.format_map({name: quote(part, safe="") for name, part in parts.items()})
