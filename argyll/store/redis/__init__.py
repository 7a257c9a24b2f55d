"""A shared event store on Redis (``redis://``) for any number of engine instances.

URLs: ``redis://[user:password@]host:port/db`` (``rediss://`` for TLS) names one
server; ``redis+cluster://host:port`` (``rediss+cluster://``) a Redis Cluster. A
plain ``redis://`` URL that reaches a cluster node is detected and works the same.
Query options: ``prefix`` (default ``argyll:``) starts every key name; ``shards``
is how many shards the keys are spread over (default 1 on one server, 16 on a
cluster; fixed when the keys are first made); the rest (``socket_timeout``,
``max_connections``, ...) is handed to redis-py.

The parts:

- ``settings``: the URL's settings and the key layout (shards as hash tags);
- ``scripts``: the Lua scripts, kept as ``lua/*.lua`` files in the package;
- ``pipeliner``: auto-pipelining, so many concurrent callers need few connections;
- ``feed``: the sharded global feed's order, reads, head and subscriptions;
- ``store``: ``RedisEventStore``, appends and reads, the flow index, snapshots, leases,
  memos and retention;
- ``backfill``: rows written before the label, goal and parent sets join them, at open;
- ``guard``: closed-store checks and driver errors turned into ``StoreError``;
- ``packing``: hiredis command packing for redis-py's asyncio connections.
"""

from argyll.store.redis.settings import SCHEMES, RedisSettings, redis_settings
from argyll.store.redis.store import RedisEventStore

__all__ = ["SCHEMES", "RedisEventStore", "RedisSettings", "redis_settings"]
