"""``argyll archive read``: the events ``argyll serve --archive DIR`` wrote before removing them.

It reads the archive files themselves (``argyll.archive``), so it needs no engine:
a day file, or a directory of them, oldest day first.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from argyll.archive import read_events
from argyll.cli import render
from argyll.cli.options import Settings, pass_settings, shared_options
from argyll.cli.remote import CommandError, ExitCode
from argyll.errors import ArgyllError
from argyll.events import FLOW_PREFIX

_to_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


@click.group()
def archive() -> None:
    """Read the history archive (argyll serve --retention DAYS --archive DIR)."""


@archive.command("read")
@click.argument("path", type=click.Path(exists=True, path_type=Path), metavar="FILE|DIR")
@click.option("--flow", "flow_id", metavar="ID", help="only this flow's events")
@shared_options
@pass_settings
def read(settings: Settings, path: Path, flow_id: str | None) -> None:
    """The archived events in FILE, or in every day file in DIR, in the order they were written.

    \b
    An event may appear twice (the same aggregate and seq) if the server stopped
    between writing the archive and removing the flow; -o json prints one event a
    line, as the REST API shows events.
    """
    if not settings.as_json:
        click.echo(f"{'FLOW':<36}  {render.event_header()}")
    try:
        for event in read_events(path, flow_id):
            shown = event.to_dict()
            if settings.as_json:
                click.echo(_to_json(shown))
            else:
                flow = event.aggregate.removeprefix(FLOW_PREFIX)
                click.echo(f"{flow:<36}  {render.event_line(shown)}")
    except (ArgyllError, OSError, ValueError) as error:
        raise CommandError(f"cannot read the archive {path}: {error}", ExitCode.REFUSED) from None
