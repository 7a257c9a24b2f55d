"""Hiding secrets from everything shown: a URL's password, a webhook's receipt token, a token
in a query string or an ``Authorization`` value.

``redact_url`` and ``redact_path`` are for what Argyll itself shows; ``redact_text`` is
the last line of defence for log lines others write (Tornado's and Bokeh's access lines
show a request's whole URI).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

from argyll.wire import WEBHOOK_PATH

MASK = "***"
_URL_PASSWORD = re.compile(r"(\b[a-z][\w+.-]*://[^:/@\s]*:)[^@\s/]+@", re.IGNORECASE)
_QUERY_TOKEN = re.compile(r"([?&](?:token|access_token)=)[^&\s]+", re.IGNORECASE)
_BEARER = re.compile(r"\b(bearer\s+)\S+", re.IGNORECASE)
_BEFORE_TOKEN = re.compile(
    re.sub(r"\\\{\w+\\\}", "[^/]*", re.escape(WEBHOOK_PATH.split("{token}")[0]))
)
_IN_TEXT_WEBHOOK = re.compile(r"(" + _BEFORE_TOKEN.pattern + r")[^\s?#]+")


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


def redact_text(text: str) -> str:
    """``text`` with every secret the other rules know of masked, wherever it stands."""
    text = _URL_PASSWORD.sub(rf"\1{MASK}@", text)
    text = _QUERY_TOKEN.sub(rf"\1{MASK}", text)
    text = _BEARER.sub(rf"\1{MASK}", text)
    return _IN_TEXT_WEBHOOK.sub(rf"\1{MASK}", text)
