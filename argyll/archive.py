"""The history archive: removed flows' events as gzip-compressed JSON lines, one file a UTC day.

``argyll serve --retention DAYS --archive DIR`` writes a flow's events here before
it removes them from the store (``argyll.runtime.retention``), into
``DIR/YYYY-MM-DD.jsonl.gz`` for the UTC day the flow ended, so one flow's events
stay together. A line is one event as the REST API shows it (``type``,
``aggregate``, ``seq``, ``timestamp``, ``data``) plus ``data_version``, the
schema version of ``data`` (``argyll.codec``), so an old archive still decodes.

Appending is safe: each write is one whole gzip member (a gzip file may hold
many, one after another), written with one ``write`` under an exclusive
``flock`` and flushed to disk (``fsync``) before the flows are removed. A crash
between the archive write and the removal leaves those flows in the store, so
the next sweep archives them again: the archive may hold an event twice (the
same ``aggregate`` and ``seq``), never lose one. A member cut short by a crash
mid-write is skipped when reading, with a warning; the members after it read.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import json
import logging
import os
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from argyll.codec import decode, encode
from argyll.events import Event
from argyll.model import parse_time

log = logging.getLogger("argyll.archive")

SUFFIX = ".jsonl.gz"
GZIP_MAGIC = b"\x1f\x8b\x08"
"""The first bytes of every gzip member (ID1, ID2, deflate)."""
CHUNK = 1 << 16
_to_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def day_file(directory: Path, day: date) -> Path:
    return directory / f"{day.isoformat()}{SUFFIX}"


def archive_line(event: Event) -> str:
    """The event as one archive line (no newline)."""
    _, version, payload = encode(event.data)
    line = event.to_dict()
    line["data"] = json.loads(payload)
    line["data_version"] = version
    return _to_json(line)


def event_of(line: Mapping[str, Any]) -> Event:
    """The event an archive line holds, its data lifted to this argyll's schema version."""
    data = decode(line["type"], line.get("data_version"), json.dumps(line["data"]))
    return Event(line["aggregate"], line["seq"], parse_time(line["timestamp"]), data)


def write_day(directory: Path, day: date, events: Sequence[Event]) -> Path:
    """Append ``events`` to the day's file as one gzip member, on disk before this returns."""
    directory.mkdir(parents=True, exist_ok=True)
    text = "".join(archive_line(event) + "\n" for event in events)
    member = gzip.compress(text.encode(), mtime=0)
    path = day_file(directory, day)
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        written = os.write(descriptor, member)
        if written != len(member):
            raise OSError(f"{path}: wrote {written} of {len(member)} bytes")
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    return path


def write_archive(directory: Path, days: Mapping[date, Sequence[Event]]) -> list[Path]:
    """Append each day's events to its file; the files written."""
    return [write_day(directory, day, events) for day, events in sorted(days.items()) if events]


def archive_files(path: Path) -> list[Path]:
    """``path`` itself if it is a file, else the day files in it, oldest day first."""
    if path.is_dir():
        return sorted(path.glob(f"*{SUFFIX}"))
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such archive file or directory")
    return [path]


def read_lines(paths: Iterable[Path]) -> Iterator[dict[str, Any]]:
    """Every line of the archive files, in file order."""
    for path in paths:
        for member in _members(path):
            for line in member.splitlines():
                if line.strip():
                    yield json.loads(line)


def read_events(path: Path, flow_id: str | None = None) -> Iterator[Event]:
    """The events archived in a file or a directory of day files, only ``flow_id``'s if given."""
    aggregate = None if flow_id is None else f"flow:{flow_id}"
    for line in read_lines(archive_files(path)):
        if aggregate is None or line.get("aggregate") == aggregate:
            yield event_of(line)


def _members(path: Path) -> Iterator[bytes]:
    """The decompressed gzip members of a file; a damaged one is skipped to the next header."""
    blob = path.read_bytes()
    view = memoryview(blob)
    start = 0
    while start < len(blob):
        member, end = _inflate(view, start)
        if member is not None:
            yield member
            start = end
            continue
        log.warning("%s: a damaged gzip member at byte %d is skipped", path, start)
        start = blob.find(GZIP_MAGIC, start + 1)
        if start < 0:
            return


def _inflate(view: memoryview, start: int) -> tuple[bytes | None, int]:
    """The member that starts at ``start`` and the offset after it, or (None, start)."""
    inflater = zlib.decompressobj(wbits=31)
    parts: list[bytes] = []
    offset = start
    with contextlib.suppress(zlib.error):
        while offset < len(view) and not inflater.eof:
            chunk = view[offset : offset + CHUNK]
            parts.append(inflater.decompress(chunk))
            offset += len(chunk)
        if inflater.eof:
            return b"".join(parts), offset - len(inflater.unused_data)
    return None, start
