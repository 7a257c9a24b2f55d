"""Redis for tests: a server per test prefix, private servers, a local cluster.

``ARGYLL_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``) names the shared
server; each test gets a key prefix of its own and its keys are deleted after.
A missing Redis or binary skips, except when ``CI`` is "true": then it fails.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import NoReturn

import pytest
import redis
import redis.cluster

from argyll.testing import wait_until_sync

REDIS_URL = os.environ.get("ARGYLL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI") == "true"
HAVE_REDIS_BINARIES = all(shutil.which(name) for name in ("redis-server", "redis-cli"))
STARTUP = 20.0
"""Seconds a local redis-server or cluster may take to come up."""
PORT_TRIES = 3
"""Ports a new redis-server tries before its test fails."""


def unavailable(reason: str) -> NoReturn:
    """Skip a test that needs Redis, except in CI, where a missing Redis is a failure."""
    if IN_CI:
        pytest.fail(reason)
    pytest.skip(reason)


def sync_client(url: str) -> redis.Redis | redis.cluster.RedisCluster:
    """A blocking client for fixtures; ``redis+cluster://`` gives a cluster client."""
    options = {"socket_connect_timeout": 1.0, "socket_timeout": 5.0}
    if url.startswith("redis+cluster://"):
        cluster_url = url.replace("redis+cluster://", "redis://", 1)
        return redis.cluster.RedisCluster.from_url(cluster_url, **options)
    return redis.Redis.from_url(url, **options)


def with_prefix(url: str) -> Iterator[str]:
    """``url`` with a key prefix of its own; the keys under it are deleted afterwards."""
    prefix = f"argyll-test-{uuid.uuid4().hex}:"
    yield f"{url}{'&' if '?' in url else '?'}prefix={prefix}"
    with closing(sync_client(url)) as client:
        for key in list(client.scan_iter(match=f"{prefix}*", count=1000)):
            client.unlink(key)  # one by one: in a cluster the keys span slots


def answers(url: str, pid: int | None = None) -> bool:
    """Whether a Redis answers at ``url``; with ``pid``, whether it is that process."""
    try:
        with closing(redis.Redis.from_url(url, socket_connect_timeout=0.5)) as client:
            if pid is None:
                return bool(client.ping())
            return client.info("server")["process_id"] == pid
    except redis.RedisError:
        return False


def free_port(bus: bool = False) -> int:
    """A free loopback port; with ``bus``, port + 10000 (the cluster bus) is free too."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port: int = probe.getsockname()[1]
        if not bus or (port + 10000 <= 65535 and is_free(port + 10000)):
            return port


def is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class RedisProcess:
    """A redis-server of the test's own on a loopback port; by default it keeps nothing.

    With ``bus``, port + 10000 is free too (a cluster node's bus). Test processes run in
    parallel, so a port found free may be taken before the server binds it: a first
    start then tries another port, and a server counts as up only once the one that
    answers is this process (its ``process_id``), never a neighbour's on the same port.
    """

    def __init__(self, directory: Path, *options: str, bus: bool = False) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory, self.options, self.bus = directory, options, bus
        self.port = free_port(bus)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start (or restart, on the same port, as a server coming back would)."""
        first = self.process is None
        for _ in range(PORT_TRIES if first else 1):
            if self._launched():
                return
            if first:
                self.port = free_port(self.bus)
        raise RuntimeError(f"redis-server would not start on a free port (last {self.port})")

    def _launched(self) -> bool:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--dir", str(self.directory), "--save", "", "--appendonly", "no"]
        process = subprocess.Popen(
            [*command, *self.options], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.process = process
        wait_until_sync(
            lambda: process.poll() is not None or answers(self.url, process.pid),
            f"redis-server on port {self.port}",
            timeout=STARTUP,
        )
        return process.poll() is None

    def kill(self) -> None:
        """Stop at once, as a crash would."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.kill()


class LocalCluster:
    """Three masters, no replicas, on loopback ports, made with ``redis-cli --cluster create``."""

    def __init__(self, directory: Path, masters: int = 3) -> None:
        cluster_options = ("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
        self.nodes = [
            RedisProcess(directory / f"node{n}", *cluster_options, bus=True)
            for n in range(masters)
        ]

    @property
    def url(self) -> str:
        return f"redis+cluster://127.0.0.1:{self.nodes[0].port}"

    def start(self) -> None:
        for node in self.nodes:
            node.start()
        addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
        create = ["redis-cli", "--cluster", "create", *addresses, "--cluster-replicas", "0"]
        subprocess.run(
            [*create, "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=STARTUP,
        )
        wait_until_sync(self._ready, "cluster_state:ok on every node", timeout=STARTUP)

    def _ready(self) -> bool:
        for node in self.nodes:
            with closing(redis.Redis.from_url(node.url)) as client:
                if client.cluster("info").get("cluster_state") != "ok":
                    return False
        return True

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
