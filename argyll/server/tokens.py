"""The tokens file of ``argyll serve --tokens FILE``, re-read when it changes.

``current()`` is asked on every request; it costs one ``stat`` and re-reads the
file only when its modification time, size or inode changed, so tokens are
added or revoked by editing the file, with no restart (``reload()`` forces a
re-read: ``argyll serve`` calls it on SIGHUP). A file that cannot be read or
parsed after a change accepts no token at all until it is fixed (a revocation
with a typo must not leave the revoked token working), and says so in the log.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from argyll.access import Tokens, parse_tokens
from argyll.errors import ValidationError

log = logging.getLogger("argyll.server")

Stamp = tuple[int, int, int]


def tokens_format(path: Path, text: str) -> str:
    """``json`` for a ``.json`` file, or one that starts with ``[`` but not TOML's ``[[``;
    TOML otherwise."""
    suffix, start = path.suffix.lower(), text.lstrip()[:2]
    if suffix == ".json" or (suffix != ".toml" and start[:1] == "[" and start != "[["):
        return "json"
    return "toml"


def read_tokens(path: Path) -> Tokens:
    """The tokens of the file at ``path``; ``OSError`` or ``ValidationError`` when it is bad."""
    text = path.read_text(encoding="utf-8")
    return parse_tokens(text, tokens_format(path, text))


class TokenFile:
    """The tokens of one file, kept current. The first read's errors are the caller's."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._stamp = self._stat()
        self._tokens = read_tokens(self.path)

    def current(self) -> Tokens:
        """The tokens as the file has them now."""
        if self._stat() != self._stamp:
            self.reload()
        return self._tokens

    def reload(self) -> None:
        """Read the file again, whether it changed or not."""
        self._stamp = self._stat()
        try:
            self._tokens = read_tokens(self.path)
        except (OSError, ValidationError) as exc:
            log.error("tokens file %s is unusable, no token is accepted: %s", self.path, exc)
            self._tokens = Tokens()
        else:
            log.info("tokens file %s read: %d tokens", self.path, len(self._tokens.entries))

    def _stat(self) -> Stamp:
        try:
            info = self.path.stat()
        except OSError:
            return (0, 0, 0)
        return (info.st_mtime_ns, info.st_size, info.st_ino)
