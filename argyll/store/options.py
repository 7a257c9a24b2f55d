"""The option every store URL takes: ``memo_limit``, how many memo entries the store keeps.

``memory://?memo_limit=1000``, ``sqlite:///argyll.db?memo_limit=1000``,
``redis://host/0?memo_limit=1000``: a whole number from 1 up; without it,
``argyll.store.base.MEMO_LIMIT``. The rest of a URL is the store's own.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from argyll.errors import ValidationError
from argyll.store.base import MEMO_LIMIT

MEMO_LIMIT_OPTION = "memo_limit"


def memo_limit_problems(text: str | None) -> list[tuple[str, str]]:
    """What is wrong with a ``memo_limit`` option's text (None: not given, nothing)."""
    if text is None or (text.isascii() and text.isdecimal() and int(text) >= 1):
        return []
    return [("store", f"{MEMO_LIMIT_OPTION}={text!r}: use a whole number from 1 up")]


def parse_memo_limit(text: str | None) -> int:
    """The limit a ``memo_limit`` option's text asks for (None: the default)."""
    problems = memo_limit_problems(text)
    if problems:
        raise ValidationError(problems)
    return MEMO_LIMIT if text is None else int(text)


def split_memo_limit(url: str) -> tuple[str, int]:
    """``url`` without its ``memo_limit`` option, and the limit it asks for."""
    base, mark, query = url.partition("?")
    if not mark:
        return url, MEMO_LIMIT
    options = parse_qsl(query, keep_blank_values=True)
    limits = [value for name, value in options if name == MEMO_LIMIT_OPTION]
    rest = [(name, value) for name, value in options if name != MEMO_LIMIT_OPTION]
    limit = parse_memo_limit(limits[-1] if limits else None)
    return (f"{base}?{urlencode(rest)}" if rest else base), limit
