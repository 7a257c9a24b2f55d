"""Command packing in C with hiredis for redis-py's asyncio connections: the one hack.

redis-py's asyncio connections pack every argument in Python (its blocking
client packs with hiredis); with a pipeline of appends that was most of the
store's CPU time. ``pack_with_hiredis`` swaps a pool's connection class for a
subclass that packs with ``hiredis.pack_command``. It leans on two things
redis-py does not promise: ``ConnectionPool.connection_class`` and
``AbstractConnection.pack_command``; ``tests/contract/test_redis_packing.py``
fails when either changes under it. The cluster client keeps redis-py's own
connections (it takes no connection class).
"""

from __future__ import annotations

from typing import Any

import hiredis
from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection, Connection, SSLConnection


class _HiredisPacking:
    """Packs commands in C with hiredis, as redis-py's blocking client does."""

    def pack_command(self, *args: Any) -> list[bytes]:
        if isinstance(args[0], str) and " " in args[0]:  # "SCRIPT LOAD" and the like
            packed: list[bytes] = super().pack_command(*args)  # type: ignore[misc]
            return packed
        return [hiredis.pack_command(args)]


class HiredisConnection(_HiredisPacking, Connection):
    pass


class HiredisSSLConnection(_HiredisPacking, SSLConnection):
    pass


_PACKING: dict[type[AbstractConnection], type[AbstractConnection]] = {
    Connection: HiredisConnection,
    SSLConnection: HiredisSSLConnection,
}


def pack_with_hiredis(client: Redis) -> None:
    """Make the connections ``client`` opens from now on pack commands with hiredis."""
    pool = client.connection_pool
    pool.connection_class = _PACKING.get(pool.connection_class, pool.connection_class)
