"""``argyll health``: whether the engine and its store answer, and every step's health."""

from __future__ import annotations

import click

from argyll.cli import render
from argyll.cli.options import Settings, pass_settings, shared_options
from argyll.cli.remote import ExitCode
from argyll.client import protocol


@click.command(short_help="The engine's health and every step's.")
@shared_options
@pass_settings
def health(settings: Settings) -> None:
    """The engine's /health and each step's health; exit 4 unless the engine is ok.

    With -o json: {"engine": <GET /health>, "steps": <GET /engine/health>}, both
    replies as the API sent them.
    """
    with settings.remote() as remote:
        service = remote.send(protocol.health())
        steps = remote.send(protocol.steps_health())
    if settings.as_json:
        both = b'{"engine": ' + service.body.rstrip() + b', "steps": ' + steps.body.rstrip() + b"}"
        render.print_json(both)
    else:
        render.show(*render.health(service.data, steps.data))
    if service.data["status"] != "ok":
        click.get_current_context().exit(ExitCode.BAD_OUTCOME)
