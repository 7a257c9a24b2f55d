"""The options every client command shares: ``--url``, ``--token`` and ``-o``, before or after it.

Each option is declared on the root group and on every command under it; what is
given nearest the command wins, then the environment (``ARGYLL_URL``,
``ARGYLL_TOKEN``), then the default. The values are kept in one ``Settings`` on
the click context, so the commands never see them as parameters.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

import click

from argyll.cli.remote import Remote
from argyll.client.client import DEFAULT_URL

F = TypeVar("F", bound=Callable[..., Any])


class Output(StrEnum):
    TABLE = "table"
    JSON = "json"


@dataclass(slots=True)
class Settings:
    """What the shared options were given as (None: not given)."""

    url: str | None = None
    token: str | None = None
    output: str | None = None

    @property
    def engine_url(self) -> str:
        return self.url or os.environ.get("ARGYLL_URL") or DEFAULT_URL

    @property
    def bearer_token(self) -> str | None:
        return self.token or os.environ.get("ARGYLL_TOKEN") or None

    @property
    def as_json(self) -> bool:
        return self.output == Output.JSON

    def remote(self) -> Remote:
        return Remote(self.engine_url, self.bearer_token)


def _remember(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None and param.name is not None:
        setattr(ctx.ensure_object(Settings), param.name, value)


def shared_options(command: F) -> F:
    """Add ``--url``, ``--token`` and ``-o/--output`` to a command or group."""
    options = (
        click.option(
            "--url",
            metavar="URL",
            callback=_remember,
            expose_value=False,
            help=f"the engine's address (default: $ARGYLL_URL, else {DEFAULT_URL})",
        ),
        click.option(
            "--token",
            metavar="TOKEN",
            callback=_remember,
            expose_value=False,
            help="sent as 'Authorization: Bearer TOKEN' (default: $ARGYLL_TOKEN)",
        ),
        click.option(
            "-o",
            "--output",
            type=click.Choice([output.value for output in Output]),
            callback=_remember,
            expose_value=False,
            help="table (default, for people) or json (the API's own JSON, for scripts)",
        ),
    )
    for option in reversed(options):
        command = option(command)
    return command


pass_settings = click.make_pass_decorator(Settings, ensure=True)
"""Hand a command the ``Settings`` its shared options filled in."""
