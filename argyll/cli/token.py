"""``argyll token new NAME --scopes …``: mint a token, print it once, and the entry to add.

The token is ``secrets.token_urlsafe(32)`` (256 random bits); only its SHA-256
goes into the tokens file, so the printed token is the only copy there is.
"""

from __future__ import annotations

import json
import secrets

import click

from argyll.access import Scope, Token, entry_toml, parse_scopes, token_sha256

TOKEN_BYTES = 32


@click.group()
def token() -> None:
    """Mint tokens for `argyll serve --tokens FILE` (docs/security.md)."""


@token.command("new")
@click.argument("name")
@click.option(
    "--scopes",
    multiple=True,
    required=True,
    metavar="SCOPES",
    help="read, run or admin (admin includes run, run includes read); comma-separated, may repeat",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["toml", "json"]),
    default="toml",
    show_default=True,
    help="how to print the entry for the tokens file",
)
def new(name: str, scopes: tuple[str, ...], fmt: str) -> None:
    """Print a new token for NAME (its events will name NAME as their actor) once,
    then the entry to add to the tokens file."""
    problems: list[tuple[str, str]] = []
    parsed = parse_scopes(scopes, problems, "--scopes")
    if problems or not name.strip():
        reasons = [reason for _, reason in problems] or ["NAME must not be empty"]
        raise click.UsageError("; ".join(reasons))
    secret = secrets.token_urlsafe(TOKEN_BYTES)
    entry = Token(name, token_sha256(secret), frozenset(Scope(s) for s in parsed))
    click.echo(f"token: {secret}")
    click.echo("Keep it now: it is not stored anywhere. Add this entry to the tokens file:")
    click.echo(entry_toml(entry) if fmt == "toml" else json.dumps(entry.to_dict()))
