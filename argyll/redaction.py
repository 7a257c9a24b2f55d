"""Hiding secrets from everything shown: the one rule for a URL with a password in it."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

from argyll.wire import WEBHOOK_PATH

MASK = "***"
_BEFORE_TOKEN = re.compile(
    re.sub(r"\\\{\w+\\\}", "[^/]*", re.escape(WEBHOOK_PATH.split("{token}")[0]))
)


def redact_url(url: str) -> str:
    """``url`` with the password of its ``user:password@`` (if any) replaced by ``***``.

    Every place that shows a store URL (the startup line, logs, errors, health,
    engine info) shows it through this function.
    """
    parts = urlsplit(url)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{hostport}"))


def redact_path(path: str) -> str:
    """A request path fit for the access log: a webhook's receipt token (and anything after
    it) replaced by ``***``, whether or not the path matched a route."""
    match = _BEFORE_TOKEN.match(path)
    if match is None or match.end() == len(path):
        return path
    return path[: match.end()] + MASK
