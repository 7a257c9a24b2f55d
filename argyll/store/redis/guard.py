"""The edge of the Redis store: calls on a closed store fail, driver errors become StoreError.

The store and its feed share one ``Guard``, so closing the store closes both.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from redis.exceptions import RedisError

from argyll.errors import StoreError


class Guard:
    """Whether the store is open, and the translation of redis-py's errors into ours."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.closed = False

    def check_open(self) -> None:
        if self.closed:
            raise StoreError(f"{self.url}: the store is closed")

    @contextlib.contextmanager
    def translating(self) -> Iterator[None]:
        """Check the store is open; a driver error becomes a StoreError naming the store."""
        self.check_open()
        try:
            yield
        except RedisError as error:
            raise StoreError(f"{self.url}: {error}") from error
