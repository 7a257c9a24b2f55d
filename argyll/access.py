"""Who may do what: scopes, tokens, the tokens file's contents, and every route's scope.

A token is known to the engine only by the SHA-256 of its text, its ``name`` (what
its events record as ``actor``) and its scopes; ``admin`` ⊃ ``run`` ⊃ ``read``.
``ROUTE_SCOPES`` maps every (method, route template) of ``argyll.wire`` to the
scope it needs, or to ``PUBLIC`` (no token: ``GET /health`` and the webhooks,
which their receipt token authorises). ``authorize`` is the one decision every
face makes, before it looks anything up, so a refusal never tells what exists.

Pure: standard library only; reading the file and minting tokens are the shell's.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from argyll import wire
from argyll.errors import ForbiddenError, UnauthorizedError, ValidationError
from argyll.events import ANONYMOUS


class Scope(StrEnum):
    READ = "read"
    RUN = "run"
    ADMIN = "admin"


_RANK: Final = {Scope.READ: 0, Scope.RUN: 1, Scope.ADMIN: 2}
PUBLIC: Final = None
"""The scope of a route that needs no token."""

Needed = Scope | None

_HEX64 = re.compile(r"[0-9a-f]{64}")
_FIELDS = ("name", "token_sha256", "scopes")


def token_sha256(secret: str) -> str:
    """What the tokens file stores of a token: its SHA-256, in lowercase hex."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Token:
    """One entry of the tokens file."""

    name: str
    token_sha256: str
    scopes: frozenset[Scope]

    def allows(self, needed: Needed) -> bool:
        """Whether this token's scopes cover ``needed`` (a higher scope includes the lower)."""
        if needed is None:
            return True
        return any(_RANK[held] >= _RANK[needed] for held in self.scopes)

    def to_dict(self) -> dict[str, Any]:
        scopes = sorted(self.scopes, key=_RANK.__getitem__)
        return {"name": self.name, "token_sha256": self.token_sha256, "scopes": scopes}


OPEN: Final = Token(ANONYMOUS, "", frozenset({Scope.ADMIN}))
"""Who calls when no tokens are configured: anyone, with every scope."""


@dataclass(frozen=True, slots=True)
class Tokens:
    """The tokens a server accepts."""

    entries: tuple[Token, ...] = ()

    def find(self, secret: str) -> Token | None:
        """The entry of ``secret``, or None; every entry is compared, in constant time."""
        digest = token_sha256(secret)
        found = None
        for entry in self.entries:
            if hmac.compare_digest(digest, entry.token_sha256):
                found = entry
        return found


def authorize(tokens: Tokens | None, secret: str | None, needed: Needed) -> Token | None:
    """Who makes a call that needs ``needed``, given the token it presented (``secret``).

    No tokens configured: ``OPEN``. A public route: the presented token's entry, or None
    for none or an unknown one (a public route never refuses). Otherwise the entry, or
    ``UnauthorizedError`` (no token, unknown token) or ``ForbiddenError`` (not its scope).
    """
    if tokens is None:
        return OPEN
    token = tokens.find(secret) if secret else None
    if needed is None:
        return token
    if token is None:
        raise UnauthorizedError()
    if not token.allows(needed):
        raise ForbiddenError(needed.value)
    return token


def bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    scheme, _, secret = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return None
    return secret.strip()


# ---------------------------------------------------------------- the file


def parse_tokens(text: str, fmt: str) -> Tokens:
    """The tokens of a tokens file: a JSON list (``fmt`` "json") or TOML ``[[tokens]]``.

    Every problem is gathered (naming the entry) and raised once as a ``ValidationError``.
    """
    try:
        raw = json.loads(text) if fmt == "json" else tomllib.loads(text).get("tokens", [])
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ValidationError([("tokens", f"not valid {fmt.upper()}: {exc}")]) from None
    if not isinstance(raw, list):
        raise ValidationError([("tokens", "must be a list of {name, token_sha256, scopes}")])
    problems: list[tuple[str, str]] = []
    entries = [_entry(item, f"tokens[{index}]", problems) for index, item in enumerate(raw)]
    names = [entry.name for entry in entries if entry is not None]
    problems += [("tokens", f"the name {json.dumps(n)} is given twice") for n in _twice(names)]
    digests = [entry.token_sha256 for entry in entries if entry is not None]
    if _twice(digests):
        problems.append(("tokens", "the same token_sha256 is given to two names"))
    if problems:
        raise ValidationError(problems)
    return Tokens(tuple(entry for entry in entries if entry is not None))


def _entry(item: Any, where: str, problems: list[tuple[str, str]]) -> Token | None:
    if not isinstance(item, dict):
        problems.append((where, "must be an object of name, token_sha256, scopes"))
        return None
    found = len(problems)
    problems += [(f"{where}.{key}", "unknown field") for key in item if key not in _FIELDS]
    name, digest, scopes = (item.get(key) for key in _FIELDS)
    if not isinstance(name, str) or not name.strip():
        problems.append((f"{where}.name", "must be a non-empty string"))
    if not isinstance(digest, str) or not _HEX64.fullmatch(digest):
        problems.append((f"{where}.token_sha256", "must be 64 lowercase hex digits"))
    parsed = parse_scopes(scopes if isinstance(scopes, list) else [None], problems, where)
    if len(problems) > found:
        return None
    return Token(str(name), str(digest), parsed)


def parse_scopes(
    given: Iterable[Any], problems: list[tuple[str, str]], where: str = "scopes"
) -> frozenset[Scope]:
    """Scope names (each may be a comma-separated list); bad ones are added to ``problems``."""
    given = list(given)
    names = [part.strip() for item in given if isinstance(item, str) for part in item.split(",")]
    known = {scope.value for scope in Scope}
    if not names or any(not isinstance(item, str) for item in given):
        problems.append((f"{where}.scopes", "must list one or more of read, run, admin"))
    problems += [
        (f"{where}.scopes", f"unknown scope {json.dumps(name)}: use read, run or admin")
        for name in names
        if name not in known
    ]
    return frozenset(Scope(name) for name in names if name in known)


def _twice(names: list[str]) -> list[str]:
    return sorted({name for name in names if names.count(name) > 1})


def entry_toml(token: Token) -> str:
    """The ``[[tokens]]`` table of ``token``, ready to paste into a TOML tokens file."""
    scopes = ", ".join(json.dumps(scope) for scope in token.to_dict()["scopes"])
    return (
        f"[[tokens]]\nname = {json.dumps(token.name)}\n"
        f'token_sha256 = "{token.token_sha256}"\nscopes = [{scopes}]\n'
    )


# -------------------------------------------------------------- the routes

ROUTE_SCOPES: Mapping[tuple[str, str], Needed] = {
    ("GET", wire.HEALTH_PATH): PUBLIC,
    ("GET", "/"): PUBLIC,
    ("POST", wire.WEBHOOK_PATH): PUBLIC,
    ("GET", wire.METRICS_PATH): Scope.READ,
    ("GET", wire.ENGINE_PATH): Scope.READ,
    ("GET", wire.OPENAPI_PATH): Scope.READ,
    ("GET", wire.STEPS_PATH): Scope.READ,
    ("POST", wire.STEPS_PATH): Scope.ADMIN,
    ("GET", wire.STEP_PATH): Scope.READ,
    ("PUT", wire.STEP_PATH): Scope.ADMIN,
    ("DELETE", wire.STEP_PATH): Scope.ADMIN,
    ("GET", wire.HEALTHS_PATH): Scope.READ,
    ("GET", wire.STEP_HEALTH_PATH): Scope.READ,
    ("POST", wire.PLAN_PATH): Scope.READ,
    ("GET", wire.FLOWS_PATH): Scope.READ,
    ("POST", wire.FLOWS_PATH): Scope.RUN,
    ("POST", wire.FLOW_QUERY_PATH): Scope.READ,
    ("GET", wire.FLOW_QUERY_PATH): Scope.READ,
    ("GET", wire.FLOW_PATH): Scope.READ,
    ("GET", wire.FLOW_STATUS_PATH): Scope.READ,
    ("GET", wire.FLOW_EVENTS_PATH): Scope.READ,
    ("GET", wire.FLOW_EXPLAIN_PATH): Scope.READ,
    ("POST", wire.FLOW_CANCEL_PATH): Scope.RUN,
    ("POST", wire.FLOW_PAUSE_PATH): Scope.RUN,
    ("POST", wire.FLOW_RESUME_PATH): Scope.RUN,
    ("POST", wire.FLOW_RETRY_PATH): Scope.RUN,
    ("POST", wire.STEP_COMPLETE_PATH): Scope.RUN,
    ("POST", wire.STEP_SKIP_PATH): Scope.RUN,
    ("GET", wire.EVENTS_PATH): Scope.READ,
    ("GET", wire.FEED_PATH): Scope.READ,
    ("GET", wire.CATALOG_EVENTS_PATH): Scope.READ,
}
"""Every route and method the server answers, and what it needs (``PUBLIC``: no token)."""


def scope_for(method: str, template: str | None) -> Needed:
    """The scope a call needs; a method or route the table does not name needs ``admin``
    (so a forgotten row fails closed, and the table test names it)."""
    if template is None:
        return Scope.ADMIN
    return ROUTE_SCOPES.get((method.upper(), template), Scope.ADMIN)
