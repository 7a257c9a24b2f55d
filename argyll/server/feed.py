"""``GET /engine/events`` and ``GET /engine/catalog/events``: the feed in pages, by position.

``?after=`` is a position a page (or the WebSocket) gave; ``?limit=`` bounds the
page. Both are checked before anything is read: a position the store did not
make is a 400 naming ``after``.
"""

from __future__ import annotations

from argyll.errors import ValidationError
from argyll.events import CATALOG
from argyll.model import json_text
from argyll.runtime.feeds import feed_page, stream_page
from argyll.server.handlers import ApiHandler

DEFAULT_PAGE = 100
MAX_PAGE = 1000
"""Events in a page when ``limit`` is not given, and the most one page holds."""


def parse_page(after: str | None, limit: str | None) -> tuple[str, int]:
    """``?after=`` ("" by default: the start) and ``?limit=`` (1 to ``MAX_PAGE``)."""
    if limit is None:
        return after or "", DEFAULT_PAGE
    if not (limit.isascii() and limit.isdecimal() and 1 <= int(limit) <= MAX_PAGE):
        reason = f"must be an integer from 1 to {MAX_PAGE}, got {json_text(limit)}"
        raise ValidationError([("limit", reason)])
    return after or "", int(limit)


class FeedHandler(ApiHandler):
    async def get(self) -> None:
        after, limit = self._page_query()
        self.reply((await feed_page(self.engine.store, after, limit)).to_dict())

    def _page_query(self) -> tuple[str, int]:
        return parse_page(
            self.get_query_argument("after", None, strip=False),
            self.get_query_argument("limit", None),
        )


class CatalogEventsHandler(FeedHandler):
    async def get(self) -> None:
        after, limit = self._page_query()
        self.reply((await stream_page(self.engine.store, CATALOG, after, limit)).to_dict())
