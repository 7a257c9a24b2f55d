"""The names both ends of Argyll's HTTP and WebSocket traffic must spell alike (SPEC §4, §7).

The engine's step caller, the server, the client, the step SDK and the
dashboard all import these, so a header, a content type, a close code or the
webhook path is written once. Standard library only: the core may use it too.
"""

from __future__ import annotations

from urllib.parse import quote

FLOW_ID_HEADER = "Argyll-Flow-ID"
STEP_ID_HEADER = "Argyll-Step-ID"
RECEIPT_TOKEN_HEADER = "Argyll-Receipt-Token"
WEBHOOK_URL_HEADER = "Argyll-Webhook-URL"
"""Headers the engine sends with every call of an HTTP step (the last one to async steps)."""

JSON_CONTENT_TYPE = "application/json"
PROBLEM_CONTENT_TYPE = "application/problem+json"
"""Every success body is JSON; every error body is RFC 9457 problem details."""

WEBHOOK_PATH = "/webhook/{flow_id}/{step_id}/{token}"
"""Where an async step posts its result (the path template of the route)."""
EVENTS_PATH = "/engine/ws"
"""The WebSocket of the event feed."""

CLOSE_GOING_AWAY = 1001
CLOSE_INTERNAL_ERROR = 1011
CLOSE_TRY_AGAIN_LATER = 1013
"""Close codes of the event WebSocket: the server stops; its feed failed; the client fell behind."""


def webhook_path(flow_id: str, step_id: str, token: str) -> str:
    """``WEBHOOK_PATH`` filled in, each part quoted as one path segment."""
    flow, step, item = (quote(part, safe="") for part in (flow_id, step_id, token))
    return WEBHOOK_PATH.format(flow_id=flow, step_id=step, token=item)
