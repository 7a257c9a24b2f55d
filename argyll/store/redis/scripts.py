"""The store's Lua scripts, read from the ``lua/`` files shipped with the package.

Each script is ``ids.lua`` (stream-id helpers and the shard clock's ``mark``),
then the helpers it names (``events.lua``: where an aggregate's events are listed),
then its own file, and is called by its SHA1 (EVALSHA); the pipeliner
loads them again when the server has lost them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib.resources import files


@dataclass(frozen=True, slots=True)
class Script:
    """A Lua script, called by its SHA1 (EVALSHA) and loaded again if the server lost it."""

    text: str
    sha: str


def _lua(name: str) -> str:
    return (files(__package__) / "lua" / f"{name}.lua").read_text(encoding="utf-8")


def _script(name: str, *helpers: str) -> Script:
    text = "".join(_lua(part) for part in ("ids", *helpers, name))
    return Script(text, hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest())


APPEND = _script("append", "events")
READ_STREAM = _script("read_stream", "events")
VERSION = _script("version", "events")
READ_FEED = _script("read_feed")
HEAD = _script("head")
HEARTBEAT = _script("heartbeat")
LIVE = _script("live")
SLOT_ACQUIRE = _script("slot_acquire")
SLOT_RELEASE = _script("slot_release")
SLOT_LIST = _script("slot_list")
SLOT_REAP = _script("slot_reap")
MEMO_GET = _script("memo_get")
MEMO_PUT = _script("memo_put")
MEMO_FORGET = _script("memo_forget")
MEMO_DROP_FLOWS = _script("memo_drop_flows")
REMOVE_FLOWS = _script("remove_flows", "events")
BACKFILL = _script("backfill")
LEASE = _script("lease")
SCRIPTS = (
    APPEND,
    READ_STREAM,
    VERSION,
    READ_FEED,
    HEAD,
    HEARTBEAT,
    LIVE,
    SLOT_ACQUIRE,
    SLOT_RELEASE,
    SLOT_LIST,
    SLOT_REAP,
    MEMO_GET,
    MEMO_PUT,
    MEMO_FORGET,
    MEMO_DROP_FLOWS,
    REMOVE_FLOWS,
    BACKFILL,
    LEASE,
)
