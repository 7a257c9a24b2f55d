"""The schema: the statements that take a SQLite store's file from each version to the next.

What each version added is told in ``argyll.store.sqlite``'s docstring.
"""

from __future__ import annotations

_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (  # to version 1
        """CREATE TABLE events (
            position INTEGER PRIMARY KEY AUTOINCREMENT,
            aggregate TEXT NOT NULL,
            seq INTEGER NOT NULL,
            type TEXT NOT NULL,
            timestamp TEXT NOT NULL,
            data TEXT NOT NULL,
            UNIQUE (aggregate, seq)
        )""",
        """CREATE TABLE flows (
            id TEXT PRIMARY KEY,
            status TEXT NOT NULL,
            created_at TEXT NOT NULL,
            completed_at TEXT,
            error TEXT
        )""",
        "CREATE INDEX flows_by_status ON flows (status, created_at)",
        "CREATE TABLE instances (id TEXT PRIMARY KEY, expires REAL NOT NULL)",
        "CREATE TABLE snapshots (aggregate TEXT PRIMARY KEY, version INTEGER NOT NULL, state TEXT)",
    ),
    (  # to version 2: events carry the schema version of their data
        "ALTER TABLE events ADD COLUMN data_version INTEGER NOT NULL DEFAULT 1",
    ),
    (  # to version 3: flows carry the labels they were started with (a JSON object)
        "ALTER TABLE flows ADD COLUMN labels TEXT NOT NULL DEFAULT '{}'",
    ),
    (  # to version 4: concurrency slots, held (held = 1) or waited for in arrival order
        """CREATE TABLE slots (
            arrival INTEGER PRIMARY KEY AUTOINCREMENT,
            step TEXT NOT NULL,
            flow TEXT NOT NULL,
            token TEXT NOT NULL,
            instance TEXT NOT NULL,
            held INTEGER NOT NULL DEFAULT 0,
            UNIQUE (step, flow, token)
        )""",
        "CREATE INDEX slots_by_step ON slots (step, held, arrival)",
    ),
    (  # to version 5: memoized results, the least recently used lowest in `used`
        """CREATE TABLE memos (
            key TEXT PRIMARY KEY,
            step TEXT NOT NULL,
            outputs TEXT NOT NULL,
            flow TEXT NOT NULL,
            seq INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            used INTEGER NOT NULL
        )""",
        "CREATE INDEX memos_by_step ON memos (step)",
        "CREATE INDEX memos_by_use ON memos (used)",
    ),
    (  # to version 6: a child flow's row names its parent flow
        "ALTER TABLE flows ADD COLUMN parent TEXT",
    ),
    (  # to version 7: flow queries served from indexes, counts by status
        "ALTER TABLE flows ADD COLUMN goals TEXT NOT NULL DEFAULT '[]'",
        """UPDATE flows SET goals = coalesce((
            SELECT json_extract(data, '$.plan.goals') FROM events
            WHERE aggregate = 'flow:' || flows.id AND type = 'flow_started'
        ), '[]')""",
        "DROP INDEX flows_by_status",
        "CREATE INDEX flows_by_status ON flows (status, created_at, id)",
        "CREATE INDEX flows_by_created ON flows (created_at, id)",
        "CREATE INDEX flows_by_parent ON flows (parent, created_at, id)",
        """CREATE TABLE flow_labels (
            id TEXT NOT NULL,
            name TEXT NOT NULL,
            value TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (id, name)
        ) WITHOUT ROWID""",
        "CREATE INDEX flow_labels_by_value ON flow_labels (name, value, created_at, id)",
        """CREATE TABLE flow_goals (
            id TEXT NOT NULL,
            goal TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (id, goal)
        ) WITHOUT ROWID""",
        "CREATE INDEX flow_goals_by_goal ON flow_goals (goal, created_at, id)",
        """INSERT INTO flow_labels (id, name, value, created_at)
            SELECT flows.id, label.key, label.value, flows.created_at
            FROM flows, json_each(flows.labels) AS label""",
        """INSERT OR IGNORE INTO flow_goals (id, goal, created_at)
            SELECT flows.id, goal.value, flows.created_at
            FROM flows, json_each(flows.goals) AS goal""",
        "CREATE TABLE flow_counts (status TEXT PRIMARY KEY, count INTEGER NOT NULL)",
        """INSERT INTO flow_counts (status, count)
            SELECT status, count(*) FROM flows GROUP BY status""",
    ),
    (  # to version 8: what retention looks up, ended flows by end time and memos by flow
        "CREATE INDEX flows_by_end ON flows (status, completed_at)",
        "CREATE INDEX memos_by_flow ON memos (flow)",
    ),
)
"""The statements that take the database from version n to n + 1, at index n."""
SCHEMA_VERSION = len(_MIGRATIONS)
