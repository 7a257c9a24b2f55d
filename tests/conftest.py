"""Shared fixtures: an engine on every store, Redis servers and a local Redis Cluster."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis_support import (
    HAVE_REDIS_BINARIES,
    REDIS_URL,
    LocalCluster,
    RedisProcess,
    answers,
    unavailable,
    with_prefix,
)

from argyll import Engine


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "memory":
        return "memory://"
    if request.param == "redis":
        return str(request.getfixturevalue("redis_url"))
    return f"sqlite:///{tmp_path / 'argyll.db'}"


@pytest.fixture
async def engine(store_url: str) -> AsyncIterator[Engine]:
    async with Engine(store_url) as running:
        yield running


# --------------------------------------------------------------------- Redis


@pytest.fixture
def redis_url() -> Iterator[str]:
    if not answers(REDIS_URL):
        unavailable(f"no Redis answers at {REDIS_URL} (set ARGYLL_TEST_REDIS_URL)")
    yield from with_prefix(REDIS_URL)


CLUSTER = pytest.StashKey[LocalCluster]()


@pytest.fixture(scope="session")
def redis_cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> LocalCluster:
    """One cluster per session, kept in the config so every module shares it."""
    if CLUSTER not in request.config.stash:
        if not HAVE_REDIS_BINARIES:
            unavailable("redis-server and redis-cli are not on PATH: no local cluster")
        cluster = LocalCluster(tmp_path_factory.mktemp("redis-cluster"))
        request.config.add_cleanup(cluster.stop)
        cluster.start()
        request.config.stash[CLUSTER] = cluster
    return request.config.stash[CLUSTER]


@pytest.fixture
def redis_cluster_url(redis_cluster: LocalCluster) -> Iterator[str]:
    yield from with_prefix(redis_cluster.url)


@pytest.fixture
def local_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    """A redis-server of this test's own that keeps every write on disk across a restart."""
    if not HAVE_REDIS_BINARIES:
        unavailable("redis-server is not on PATH")
    server = RedisProcess(tmp_path / "redis", "--appendonly", "yes", "--appendfsync", "always")
    server.start()
    try:
        yield server
    finally:
        server.stop()
