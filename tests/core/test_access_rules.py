"""The rules of who may do what, with no server: scopes, the tokens file, the decision."""

from __future__ import annotations

import json

import pytest

from argyll.access import (
    OPEN,
    Scope,
    Token,
    Tokens,
    authorize,
    bearer,
    entry_toml,
    parse_tokens,
    scope_for,
    token_sha256,
)
from argyll.errors import ForbiddenError, UnauthorizedError, ValidationError
from argyll.events import ANONYMOUS

READER = Token("reader", token_sha256("r"), frozenset({Scope.READ}))
RUNNER = Token("runner", token_sha256("x"), frozenset({Scope.RUN}))
BOSS = Token("boss", token_sha256("b"), frozenset({Scope.ADMIN}))
TOKENS = Tokens((READER, RUNNER, BOSS))


@pytest.mark.parametrize(
    ("token", "allowed"),
    [
        (READER, {Scope.READ}),
        (RUNNER, {Scope.READ, Scope.RUN}),
        (BOSS, {Scope.READ, Scope.RUN, Scope.ADMIN}),
    ],
)
def test_admin_includes_run_includes_read(token: Token, allowed: set[Scope]) -> None:
    assert {scope for scope in Scope if token.allows(scope)} == allowed
    assert token.allows(None)


def test_the_decision() -> None:
    assert authorize(None, None, Scope.ADMIN) is OPEN and OPEN.name == ANONYMOUS
    assert authorize(TOKENS, "x", Scope.RUN) is RUNNER
    assert authorize(TOKENS, None, None) is None
    assert authorize(TOKENS, "nope", None) is None
    assert authorize(TOKENS, "r", None) is READER
    for secret in (None, "", "nope", token_sha256("x")):
        with pytest.raises(UnauthorizedError):
            authorize(TOKENS, secret, Scope.READ)
    with pytest.raises(ForbiddenError) as refused:
        authorize(TOKENS, "x", Scope.ADMIN)
    assert refused.value.scope == "admin"


def test_bearer_headers() -> None:
    assert bearer("Bearer abc") == "abc"
    assert bearer("bearer  abc ") == "abc"
    for header in (None, "", "Bearer", "Bearer ", "Basic abc", "abc"):
        assert bearer(header) is None


def test_a_toml_file_and_a_json_file_say_the_same() -> None:
    toml = entry_toml(RUNNER) + "\n" + entry_toml(BOSS)
    as_json = json.dumps([RUNNER.to_dict(), BOSS.to_dict()])
    assert parse_tokens(toml, "toml") == parse_tokens(as_json, "json") == Tokens((RUNNER, BOSS))
    assert parse_tokens("", "toml") == Tokens()


def test_every_problem_of_a_tokens_file_is_told_at_once() -> None:
    text = json.dumps(
        [
            {"name": "", "token_sha256": "ABC", "scopes": ["root"], "extra": 1},
            {"name": "a", "token_sha256": token_sha256("1"), "scopes": []},
            {"name": "b", "token_sha256": token_sha256("2"), "scopes": ["read"]},
            {"name": "b", "token_sha256": token_sha256("2"), "scopes": ["read"]},
            "nonsense",
        ]
    )
    with pytest.raises(ValidationError) as bad:
        parse_tokens(text, "json")
    fields = [field for field, _ in bad.value.problems]
    assert fields == [
        "tokens[0].extra",
        "tokens[0].name",
        "tokens[0].token_sha256",
        "tokens[0].scopes",
        "tokens[1].scopes",
        "tokens[4]",
        "tokens",
        "tokens",
    ]
    for text, fmt in (("{", "json"), ("[[tokens", "toml"), ('{"tokens": []}', "json")):
        with pytest.raises(ValidationError):
            parse_tokens(text, fmt)


def test_a_route_the_table_does_not_name_needs_admin() -> None:
    assert scope_for("GET", "/health") is None
    assert scope_for("get", "/engine/flow") is Scope.READ
    assert scope_for("PATCH", "/engine/flow") is Scope.ADMIN
    assert scope_for("GET", None) is Scope.ADMIN
