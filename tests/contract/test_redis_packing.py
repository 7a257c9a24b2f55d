"""The one redis-py internal the Redis store leans on (``argyll.store.redis.packing``).

These fail when redis-py changes under the hack: the pool's ``connection_class``
stops deciding what connections are made, or ``pack_command`` stops being how a
connection turns a command into bytes (then hiredis and redis-py disagree).
"""

from __future__ import annotations

import pytest
from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection, Connection, SSLConnection

from argyll.store.redis.packing import HiredisConnection, HiredisSSLConnection, pack_with_hiredis

COMMANDS = [
    ("EVALSHA", "0123456789abcdef0123456789abcdef01234567", 2, "argyll:{s0}:feed", "k", 0, -3),
    ("XADD", "stream", "0-1", "p", "1714566615123-0"),
    ("SET", "argyll:{s1}:snapshot:flow:é", '{"state":{"text":"héllo, 世界 🌍"}}'),
    ("HMGET", b"flows", b"\x00\xff", "f"),
    ("SCRIPT LOAD", "return 1"),
]


@pytest.mark.parametrize("command", COMMANDS, ids=[command[0] for command in COMMANDS])
def test_hiredis_packs_the_bytes_redis_py_would_send(command: tuple[object, ...]) -> None:
    ours = HiredisConnection().pack_command(*command)
    theirs = Connection().pack_command(*command)

    assert b"".join(ours) == b"".join(theirs)


@pytest.mark.parametrize(
    ("url", "connection_class"),
    [
        ("redis://127.0.0.1:6379/0", HiredisConnection),
        ("rediss://127.0.0.1:6379/0", HiredisSSLConnection),
    ],
)
async def test_the_pool_makes_hiredis_connections(
    url: str, connection_class: type[AbstractConnection]
) -> None:
    client = Redis.from_url(url)
    assert client.connection_pool.connection_class in (Connection, SSLConnection)

    pack_with_hiredis(client)

    try:
        assert type(client.connection_pool.make_connection()) is connection_class
    finally:
        await client.aclose()
