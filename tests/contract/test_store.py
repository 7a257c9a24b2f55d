"""The store contract (``argyll.store.contract``) on each of our stores.

A new backend joins by adding a param to the ``store`` fixture and a branch in
``store_url`` (or ``backend_url``, for one that needs a fixture: Redis).

Redis: see ``tests/redis_support.py`` and the fixtures in ``tests/conftest.py``;
"redis-cluster" starts a 3-master cluster from the ``redis-server`` binary once
per session.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis_support import HAVE_REDIS_BINARIES, IN_CI

from argyll.store import EventStore, open_store
from argyll.store.contract import StoreContract

REDIS_BACKENDS = ["redis", *(["redis-cluster"] if HAVE_REDIS_BINARIES or IN_CI else [])]
"""The cluster is only a param where it can start, or in CI, where its absence must fail."""


def store_url(backend: str, directory: Path) -> str:
    if backend == "memory":
        return "memory://"
    if backend == "sqlite":
        return f"sqlite:///{directory / 'events.db'}"
    raise AssertionError(f"no URL for backend {backend!r}")


def backend_url(request: pytest.FixtureRequest, backend: str, directory: Path) -> str:
    if backend == "redis":
        return str(request.getfixturevalue("redis_url"))
    if backend == "redis-cluster":
        return str(request.getfixturevalue("redis_cluster_url"))
    return store_url(backend, directory)


class TestStore(StoreContract):
    @pytest.fixture(params=["memory", "sqlite", *REDIS_BACKENDS])
    async def store(
        self, request: pytest.FixtureRequest, tmp_path: Path
    ) -> AsyncIterator[EventStore]:
        async with open_store(backend_url(request, request.param, tmp_path)) as opened:
            yield opened
