"""How Argyll's log lines look: ``key=value`` text for people, one JSON object a line for machines.

The engine and the server pass ``flow_id`` and ``step_id`` to their log calls as
``extra``; the JSON format gives them their own fields (docs/metrics.md), so a
log pipeline can select one flow's lines without parsing messages. Only what a
call logs is written: no request headers or bodies ever reach a record, and
every line, whoever logged it, passes ``redact_text`` on its way out.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from argyll.redaction import redact_text

TEXT_FORMAT = "%(asctime)s level=%(levelname)s logger=%(name)s %(message)s"
LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("debug", "info", "warning", "error")
CONTEXT_FIELDS = ("flow_id", "step_id")
"""Record attributes (given as ``extra``) that the JSON format writes as fields of their own."""


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, and the flow and step ids."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": _utc(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = str(value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


class RedactingFilter(logging.Filter):
    """Masks secrets in every record's message (other libraries' access lines show URIs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = redact_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def _utc(created: float) -> str:
    moment = datetime.fromtimestamp(created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def configure(level: str = "warning", log_format: str = "text") -> None:
    """Send every ``argyll`` log line (and anything else logged) to stderr in one format."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    handler.addFilter(RedactingFilter())
    logging.basicConfig(level=level.upper(), handlers=[handler])
