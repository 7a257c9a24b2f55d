"""A durable event store in one SQLite file, on the standard library's ``sqlite3``.

URL forms:

- ``sqlite:///relative/path.db``: relative to the working directory;
- ``sqlite:////absolute/path.db``: an absolute path (four slashes);
- ``sqlite:///~/path.db``: under the home directory;
- ``sqlite:///:memory:``: a private in-memory database, gone when the store closes.

Missing parent directories are created. The file is in WAL mode with
``synchronous=NORMAL``: a commit survives the process crashing, and other
processes may read and append to the same file (their events reach this
process's subscribers within ``POLL_INTERVAL``).

Threading: one worker thread owns the connection and runs every query, so the
event loop never waits on the disk. Group commit: appends that arrive while
the worker is busy are written together in one transaction when it is free;
each is still checked against its own expected version and fails alone.

Events are encoded by ``argyll.codec``: a row keeps the event's type, its
schema version (``data_version``) and its fields as JSON text. Schema version 2
of the database added ``data_version`` as a column with the default 1, so a
file written before events carried versions opens as it is (SQLite adds such a
column without rewriting the table) and its rows decode as version 1; a column
rather than a key inside the JSON keeps the payload exactly the event's fields.
Version 3 added the flows' ``labels`` column; version 4 the ``slots`` table: each
step's concurrency slots, and the queue for them, each grant decided in one
transaction; version 5 the ``memos`` table: memoized results, each with ``used``,
a number raised past every other entry's on each put and hit, so the least
recently used is the lowest (``?memo_limit=`` bounds the table, see
``argyll.store.options``); version 6 the flows' ``parent`` column (a child flow's
parent flow). Version 7 serves flow queries from indexes: the flows' ``goals``
column, a row per label and per goal of each flow (``flow_labels``,
``flow_goals``) with the flow's creation time, indexes that give each filter's
rows in creation order, and ``flow_counts``, kept in the transaction that changes
a flow's status; the migration fills them from the rows and events already there.
Version 8 the indexes retention reads by: flows by status and end time, memos
by the flow that produced them. Removing a flow deletes its rows, its label and
goal rows, and takes it off ``flow_counts``; ``position`` is AUTOINCREMENT, so no
later event takes a removed one's.

Flow listings, queries and counts run on a second connection in a thread of
their own (a file in WAL mode has readers that never wait for the writer), so a
long listing does not hold up appends.

The modules: ``store`` (the async shell), ``database`` (the writer's connection),
``reads`` (the reader's), ``flow_sql`` (flow rows and flow-query SQL), ``retention``
(removing ended flows) and ``migrations`` (the schema, version by version).
"""

from argyll.store.sqlite.flow_sql import flow_query_sql
from argyll.store.sqlite.migrations import _MIGRATIONS, SCHEMA_VERSION
from argyll.store.sqlite.store import SQLiteEventStore, sqlite_path

__all__ = ["SCHEMA_VERSION", "_MIGRATIONS", "SQLiteEventStore", "flow_query_sql", "sqlite_path"]
